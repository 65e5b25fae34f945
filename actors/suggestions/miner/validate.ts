/**
 * A structural validator for Home Assistant automations, after HA's automation config schema: an
 * automation needs at least one trigger and one action; each trigger names its platform (`trigger:` in
 * current syntax, `platform:` in the older one); each condition names its `condition:`; each action step is
 * a service call (`action:` / legacy `service:`, "domain.service") or another known step. It checks the
 * fields of the trigger, condition and action types the miner emits, so a broken suggestion never ships.
 */
import { parse } from "yaml";

const ENTITY_ID = /^[a-z0-9_]+\.[a-z0-9_]+$/;
const SERVICE = /^[a-z0-9_]+\.[a-z0-9_]+$/;
const TIME = /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/;
const WEEKDAYS = new Set(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]);
const MODES = new Set(["single", "restart", "queued", "parallel"]);
const OTHER_STEPS = [
  "delay",
  "wait_template",
  "wait_for_trigger",
  "scene",
  "choose",
  "if",
  "repeat",
  "event",
];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

function entityIds(value: unknown): string[] | undefined {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((e) => typeof e === "string" && ENTITY_ID.test(e))) return undefined;
  return list as string[];
}

function list(auto: Obj, plural: string, singular: string): { items: unknown[]; key: string } | undefined {
  const key = auto[plural] !== undefined ? plural : auto[singular] !== undefined ? singular : undefined;
  if (!key) return undefined;
  const v = auto[key];
  if (v === null) return { items: [], key };
  return { items: Array.isArray(v) ? v : [v], key };
}

function checkTrigger(t: unknown, where: string, errors: string[]): void {
  if (!isObj(t)) return void errors.push(`${where}: expected a mapping`);
  const platform = t.trigger ?? t.platform;
  if (typeof platform !== "string")
    return void errors.push(`${where}: missing "trigger" (the trigger platform, e.g. state or time)`);
  switch (platform) {
    case "time":
      if (!(typeof t.at === "string" && TIME.test(t.at)) && !entityIds(t.at))
        errors.push(`${where}.at: expected a time "HH:MM:SS" or an input_datetime/sensor entity`);
      return;
    case "state":
      if (!entityIds(t.entity_id))
        errors.push(`${where}.entity_id: expected entity id(s) like light.kitchen`);
      if (t.to !== undefined && typeof t.to !== "string" && t.to !== null)
        errors.push(
          `${where}.to: expected a state string (quote "on"/"off": YAML 1.1 reads them as booleans)`,
        );
      return;
    case "numeric_state":
      if (!entityIds(t.entity_id)) errors.push(`${where}.entity_id: expected entity id(s)`);
      if (typeof t.above !== "number" && typeof t.below !== "number")
        errors.push(`${where}: numeric_state needs "above" or "below"`);
      return;
    default:
      return;
  }
}

function checkCondition(c: unknown, where: string, errors: string[]): void {
  if (!isObj(c)) return void errors.push(`${where}: expected a mapping`);
  if (typeof c.condition !== "string")
    return void errors.push(`${where}: missing "condition" (e.g. state, time, numeric_state)`);
  switch (c.condition) {
    case "time":
      if (c.after !== undefined && !(typeof c.after === "string" && TIME.test(c.after)))
        errors.push(`${where}.after: expected "HH:MM:SS"`);
      if (c.before !== undefined && !(typeof c.before === "string" && TIME.test(c.before)))
        errors.push(`${where}.before: expected "HH:MM:SS"`);
      if (c.weekday !== undefined) {
        const days = Array.isArray(c.weekday) ? c.weekday : [c.weekday];
        if (!days.length || !days.every((d) => typeof d === "string" && WEEKDAYS.has(d)))
          errors.push(`${where}.weekday: expected days from mon, tue, wed, thu, fri, sat, sun`);
      }
      if (c.after === undefined && c.before === undefined && c.weekday === undefined)
        errors.push(`${where}: a time condition needs after, before or weekday`);
      return;
    case "state":
      if (!entityIds(c.entity_id)) errors.push(`${where}.entity_id: expected entity id(s)`);
      if (typeof c.state !== "string" && !Array.isArray(c.state))
        errors.push(`${where}.state: expected a state`);
      return;
    case "numeric_state":
      if (!entityIds(c.entity_id)) errors.push(`${where}.entity_id: expected entity id(s)`);
      if (typeof c.above !== "number" && typeof c.below !== "number")
        errors.push(`${where}: numeric_state needs "above" or "below"`);
      return;
    default:
      return;
  }
}

function checkAction(a: unknown, where: string, errors: string[]): void {
  if (!isObj(a)) return void errors.push(`${where}: expected a mapping`);
  const service = a.action ?? a.service;
  if (service === undefined) {
    if (OTHER_STEPS.some((k) => k in a) || "condition" in a) return;
    return void errors.push(`${where}: missing "action" (a service like light.turn_on)`);
  }
  if (typeof service !== "string" || !SERVICE.test(service))
    return void errors.push(`${where}.action: expected "domain.service", got ${JSON.stringify(service)}`);
  if (a.target !== undefined) {
    const target = a.target;
    if (!isObj(target)) return void errors.push(`${where}.target: expected a mapping`);
    const keys = ["entity_id", "device_id", "area_id", "floor_id", "label_id"].filter((k) => k in target);
    if (!keys.length)
      errors.push(`${where}.target: needs entity_id, device_id, area_id, floor_id or label_id`);
    if ("entity_id" in target && !entityIds(target.entity_id))
      errors.push(`${where}.target.entity_id: expected entity id(s)`);
  }
  if (a.data !== undefined && !isObj(a.data)) errors.push(`${where}.data: expected a mapping`);
}

/** Problems with one automation object (empty when valid). Paths name the field: `triggers[0].at`. */
export function validateAutomation(auto: unknown): string[] {
  const errors: string[] = [];
  if (!isObj(auto)) return ["automation: expected a mapping"];
  if (auto.alias !== undefined && typeof auto.alias !== "string") errors.push("alias: expected text");
  if (auto.description !== undefined && typeof auto.description !== "string")
    errors.push("description: expected text");
  if (auto.mode !== undefined && !MODES.has(auto.mode as string))
    errors.push("mode: expected single, restart, queued or parallel");
  const triggers = list(auto, "triggers", "trigger");
  if (!triggers || triggers.items.length === 0) errors.push("triggers: at least one trigger is required");
  else for (const [i, t] of triggers.items.entries()) checkTrigger(t, `${triggers.key}[${i}]`, errors);
  const conditions = list(auto, "conditions", "condition");
  for (const [i, c] of (conditions?.items ?? []).entries())
    checkCondition(c, `${conditions?.key}[${i}]`, errors);
  const actions = list(auto, "actions", "action");
  if (!actions || actions.items.length === 0) errors.push("actions: at least one action is required");
  else for (const [i, a] of actions.items.entries()) checkAction(a, `${actions.key}[${i}]`, errors);
  return errors;
}

/**
 * Parses automations.yaml text (a list of automations, or one) and validates each. Returns the parsed
 * automations or the problems, each prefixed with the automation's index.
 */
export function validateAutomationYaml(
  text: string,
): { ok: true; automations: Obj[] } | { ok: false; errors: string[] } {
  let doc: unknown;
  try {
    // YAML 1.1 as Home Assistant reads it: an unquoted `to: on` arrives as a boolean and is reported.
    doc = parse(text, { version: "1.1" });
  } catch (error) {
    return { ok: false, errors: [`yaml: ${(error as Error).message}`] };
  }
  const autos = Array.isArray(doc) ? doc : [doc];
  const errors = autos.flatMap((a, i) => validateAutomation(a).map((e) => `automation ${i}: ${e}`));
  return errors.length ? { ok: false, errors } : { ok: true, automations: autos as Obj[] };
}
