/**
 * The webhooks panel: rules, the selected rule's delivery log, the last test-fire result, and the signing
 * secret of a just-created rule (the API shows it once). Actions report failures as the API's own
 * precise message (what, where, how to fix).
 */
import { atom, onMount } from "nanostores";
import { ApiError, api, type WebhookInput } from "../api.ts";
import { $token } from "./token.ts";

type Rules = Awaited<ReturnType<typeof api.webhooks>>["items"];
export type WebhookRule = Rules[number];
type Deliveries = Awaited<ReturnType<typeof api.deliveries>>["items"];
type TestResult = Awaited<ReturnType<typeof api.testWebhook>>;

export interface WebhooksState {
  status: "loading" | "ready" | "error";
  rules: Rules;
  error: string | null;
  /** The rule whose delivery log is shown. */
  selected: string | null;
  deliveries: Deliveries;
  deliveriesStatus: "idle" | "loading" | "ready" | "error";
  lastTest: { ruleId: string; result: TestResult | null; error: string | null } | null;
  created: { ruleId: string; secret: string } | null;
  /** The last failed action's message (create, change, delete). */
  actionError: string | null;
  busy: boolean;
}

export const $webhooks = atom<WebhooksState>({
  status: "loading",
  rules: [],
  error: null,
  selected: null,
  deliveries: [],
  deliveriesStatus: "idle",
  lastTest: null,
  created: null,
  actionError: null,
  busy: false,
});

const message = (error: unknown) => (error instanceof ApiError ? error.message : String(error));
const patch = (p: Partial<WebhooksState>) => $webhooks.set({ ...$webhooks.get(), ...p });

export async function refreshWebhooks(): Promise<void> {
  const token = $token.get().token;
  if (!token) return;
  try {
    const { items } = await api.webhooks(token);
    patch({ status: "ready", rules: items, error: null });
  } catch (error) {
    patch({ status: "error", error: message(error) });
  }
}

async function act(run: (token: string) => Promise<void>): Promise<boolean> {
  const token = $token.get().token;
  if (!token) return false;
  patch({ busy: true, actionError: null });
  try {
    await run(token);
    patch({ busy: false });
    await refreshWebhooks();
    return true;
  } catch (error) {
    patch({ busy: false, actionError: message(error) });
    return false;
  }
}

export function createWebhook(input: WebhookInput): Promise<boolean> {
  return act(async (token) => {
    const rule = await api.createWebhook(token, input);
    patch({ created: { ruleId: rule.id, secret: rule.secret } });
  });
}

export function setWebhookEnabled(id: string, enabled: boolean): Promise<boolean> {
  return act(async (token) => {
    await api.updateWebhook(token, id, { enabled });
  });
}

export function deleteWebhook(id: string): Promise<boolean> {
  return act(async (token) => {
    await api.deleteWebhook(token, id);
    if ($webhooks.get().selected === id) patch({ selected: null, deliveries: [] });
  });
}

export function dismissSecret(): void {
  patch({ created: null });
}

export async function selectWebhook(id: string | null): Promise<void> {
  patch({ selected: id, deliveries: [], deliveriesStatus: id ? "loading" : "idle" });
  const token = $token.get().token;
  if (!id || !token) return;
  try {
    const { items } = await api.deliveries(token, id);
    if ($webhooks.get().selected === id) patch({ deliveries: items, deliveriesStatus: "ready" });
  } catch (error) {
    if ($webhooks.get().selected === id) patch({ deliveriesStatus: "error", actionError: message(error) });
  }
}

/** Sends a signed test delivery now and shows the target's answer, then the updated delivery log. */
export async function testWebhook(id: string): Promise<void> {
  const token = $token.get().token;
  if (!token) return;
  patch({ busy: true, lastTest: null });
  try {
    const result = await api.testWebhook(token, id);
    patch({ busy: false, lastTest: { ruleId: id, result, error: null } });
  } catch (error) {
    patch({ busy: false, lastTest: { ruleId: id, result: null, error: message(error) } });
  }
  await selectWebhook(id);
}

onMount($webhooks, () => {
  void refreshWebhooks();
});
