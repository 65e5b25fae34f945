/**
 * The API bearer token: entered once, remembered in this browser's localStorage.
 * `rejected` is set when the API answers 401 so the token form can say why it is shown again.
 */
import { atom } from "nanostores";

export const TOKEN_STORAGE_KEY = "homeiq.apiToken";

export interface TokenState {
  token: string | null;
  rejected: boolean;
}

function stored(): string | null {
  try {
    return localStorage.getItem(TOKEN_STORAGE_KEY);
  } catch {
    return null;
  }
}

export const $token = atom<TokenState>({ token: stored(), rejected: false });

export function setToken(token: string): void {
  const trimmed = token.trim();
  try {
    localStorage.setItem(TOKEN_STORAGE_KEY, trimmed);
  } catch {
    // Private mode or storage disabled: the token still works for this page's life.
  }
  $token.set({ token: trimmed, rejected: false });
}

/** The API refused the token: forget it and ask again. */
export function rejectToken(): void {
  if ($token.get().token === null) return;
  try {
    localStorage.removeItem(TOKEN_STORAGE_KEY);
  } catch {}
  $token.set({ token: null, rejected: true });
}

export function forgetToken(): void {
  try {
    localStorage.removeItem(TOKEN_STORAGE_KEY);
  } catch {}
  $token.set({ token: null, rejected: false });
}
