/**
 * Home Assistant ingress: HA serves `/api/hassio_ingress/<token>/...`, strips that prefix, adds
 * `X-Ingress-Path: /api/hassio_ingress/<token>`, and its Supervisor forwards the request to the add-on's
 * ingress port. HA has already logged the user in, so HA's add-on guide asks the add-on to accept only
 * connections from the Supervisor (172.30.32.2) on that port and to treat them as authenticated.
 *
 * HomeIQ does exactly that on a listener of its own (`api.ingressPort`), opened only when
 * `api.ingressFrom` names the Supervisor's address: the decision rests on the socket's peer address, never
 * on a header (anyone can send `X-Forwarded-For` or `X-Ingress-Path`), and the main port keeps requiring
 * the token from everyone, whatever they send. Any other peer on the ingress port gets 403.
 */
import { isIP } from "node:net";

/** What the ingress listener found out about a request it let through. */
export interface IngressInfo {
  /** The peer, which is `api.ingressFrom`. */
  peer: string;
  /** `X-Ingress-Path` when well formed (the dashboard's base path), else null. */
  basePath: string | null;
}

const marks = new WeakMap<Request, IngressInfo>();

/** Marks a request the ingress listener accepted; only that listener calls this. */
export function markIngress(request: Request, info: IngressInfo): void {
  marks.set(request, info);
}

/** The ingress facts of a request, or undefined for every request that did not come through ingress. */
export function ingressOf(request: Request): IngressInfo | undefined {
  return marks.get(request);
}

/** `::ffff:172.30.32.2` (an IPv4 peer on a dual-stack socket) and `172.30.32.2` are the same peer. */
function plainAddress(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith("::ffff:") && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}

/** Whether a socket peer address is the configured ingress proxy's. */
export function isIngressPeer(address: string | null | undefined, ingressFrom: string): boolean {
  if (!address) return false;
  return plainAddress(address) === plainAddress(ingressFrom);
}

const BASE_PATH_MAX = 512;
const SEGMENT = /^[A-Za-z0-9_~-][A-Za-z0-9._~-]*$/;

/**
 * `X-Ingress-Path` when it is a plain absolute path (unreserved characters only, no `.` or `..`
 * segment, no trailing slash, bounded length), else null. It ends up in the served HTML's `<base href>`,
 * so anything that would need escaping, or could point elsewhere, is refused rather than escaped.
 */
export function ingressBasePath(header: string | null): string | null {
  if (!header || header.length > BASE_PATH_MAX || !header.startsWith("/")) return null;
  const segments = header.slice(1).split("/");
  if (segments.some((s) => !SEGMENT.test(s) || s === "." || s === "..")) return null;
  return header;
}

/**
 * The dashboard's index.html for an ingress request: a `<base href>` pointing at the ingress path (so
 * every relative URL resolves under it even when HA opened the panel without its trailing slash) and a
 * marker telling the dashboard that HA authenticates it (it then asks for no token and stores none).
 * Elements, not an inline script: the CSP allows no inline script.
 */
export function ingressIndexHtml(html: string, info: IngressInfo): string {
  const base = info.basePath === null ? "" : `<base href="${info.basePath}/" />`;
  const head = /<head[^>]*>/i.exec(html);
  const inject = `${base}<meta name="homeiq-auth" content="ingress" />`;
  if (!head) return inject + html;
  const at = head.index + head[0].length;
  return html.slice(0, at) + inject + html.slice(at);
}
