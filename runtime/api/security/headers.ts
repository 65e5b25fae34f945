/**
 * Headers on every response. The dashboard is the only HTML HomeIQ serves: Vite emits it as
 * `index.html` plus files under `assets/` (one module script, no inline script; the theme is a linked
 * stylesheet, web/src/theme.css), Lit adopts its components' styles as constructed stylesheets, and
 * every call goes to the same origin (`fetch` for the API and the live stream). So the policy allows
 * only 'self' and nothing inline; the favicon is a `data:` image.
 *
 * `frame-ancestors 'self'` (and `X-Frame-Options: SAMEORIGIN` for old browsers): no other site may frame
 * the dashboard (clickjacking), but a page of the same origin may. That is how Home Assistant's ingress
 * shows an add-on: HA's frontend frames `/api/hassio_ingress/<token>/`, which HA proxies to HomeIQ, so the
 * framed page and its parent share HA's origin and 'self' matches. A reverse proxy that puts the
 * dashboard on another origin than the page framing it must not frame it (or must rewrite the header).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join("; ");

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-frame-options": "SAMEORIGIN",
  "x-content-type-options": "nosniff",
  // The dashboard's URLs carry no secrets, but nothing outside needs to know where a click came from.
  "referrer-policy": "no-referrer",
};
