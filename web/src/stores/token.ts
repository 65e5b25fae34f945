/**
 * The API bearer token: entered once, remembered in this browser's localStorage.
 * `rejected` is set when the API answers 401 so the token form can say why it is shown again.
 *
 * Under Home Assistant's ingress there is no token: HA has logged the user in and its Supervisor is the
 * only peer HomeIQ's ingress port answers, so the server marks the page (`<meta name="homeiq-auth"
 * content="ingress">`, runtime/api/security/ingress.ts) and the dashboard sends no Authorization header.
 * There the page lives in HA's origin, which HA's frontend and every other add-on panel share, so nothing
 * is read from or written to localStorage: a token entered there (should HomeIQ ever ask) lasts only as
 * long as the page.
 */
import { atom } from "nanostores";

export const TOKEN_STORAGE_KEY = "homeiq.apiToken";

/** Stands for "HA authenticates this page" in `$token`: stores treat it as a token, api.ts sends none. */
export const INGRESS_TOKEN = "(home-assistant-ingress)";

/** Whether the server marked this page as served through HA's ingress (read once, at load). */
export const UNDER_INGRESS =
  typeof document !== "undefined" &&
  document.querySelector('meta[name="homeiq-auth"]')?.getAttribute("content") === "ingress";

export interface TokenState {
  token: string | null;
  rejected: boolean;
}

function stored(): string | null {
  if (UNDER_INGRESS) return INGRESS_TOKEN;
  try {
    return localStorage.getItem(TOKEN_STORAGE_KEY);
  } catch {
    return null;
  }
}

export const $token = atom<TokenState>({ token: stored(), rejected: false });

export function setToken(token: string): void {
  const trimmed = token.trim();
  if (!UNDER_INGRESS) {
    try {
      localStorage.setItem(TOKEN_STORAGE_KEY, trimmed);
    } catch {
      // Private mode or storage disabled: the token still works for this page's life.
    }
  }
  $token.set({ token: trimmed, rejected: false });
}

/** The API refused the token: forget it and ask again. */
export function rejectToken(): void {
  if ($token.get().token === null) return;
  if (!UNDER_INGRESS) {
    try {
      localStorage.removeItem(TOKEN_STORAGE_KEY);
    } catch {}
  }
  $token.set({ token: null, rejected: true });
}

export function forgetToken(): void {
  if (!UNDER_INGRESS) {
    try {
      localStorage.removeItem(TOKEN_STORAGE_KEY);
    } catch {}
  }
  $token.set({ token: null, rejected: false });
}
