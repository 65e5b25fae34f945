/**
 * The dashboard shell: header with navigation and stream status, the token gate, and the current view.
 * Views are chosen by the URL hash (see stores/route.ts), so links, back/forward and reloads all work.
 */
import { StoreController } from "@nanostores/lit";
import { css, html, LitElement } from "lit";
import { customElement } from "lit/decorators.js";
import { $route, hrefFor, type View } from "../stores/route.ts";
import { $token, forgetToken, UNDER_INGRESS } from "../stores/token.ts";
import { shared } from "../styles.ts";
import "./hiq-enrichment.ts";
import "./hiq-entities.ts";
import "./hiq-entity-detail.ts";
import "./hiq-insights.ts";
import "./hiq-live-events.ts";
import "./hiq-overview.ts";
import "./hiq-stream-badge.ts";
import "./hiq-suggestions.ts";
import "./hiq-token-form.ts";
import "./hiq-webhooks.ts";

const NAV: { view: View; label: string }[] = [
  { view: "overview", label: "Overview" },
  { view: "live", label: "Live events" },
  { view: "entities", label: "Devices & entities" },
  { view: "webhooks", label: "Webhooks" },
  { view: "enrichment", label: "Enrichment" },
  { view: "insights", label: "Insights" },
  { view: "suggestions", label: "Suggestions" },
];

@customElement("hiq-app")
export class HiqApp extends LitElement {
  private _route = new StoreController(this, $route);
  private _token = new StoreController(this, $token);

  override render() {
    const hasToken = this._token.value.token !== null;
    const { view } = this._route.value;
    const current = view === "entity" ? "entities" : view;
    return html`
      <a class="skip" href="#main" @click=${this._skip}>Skip to content</a>
      <header>
        <div class="brand"><span class="logo" aria-hidden="true">◉</span> HomeIQ</div>
        ${
          hasToken
            ? html`<nav aria-label="Views">
                ${NAV.map(
                  (n) =>
                    html`<a href=${hrefFor(n.view)} aria-current=${current === n.view ? "page" : "false"}>${n.label}</a>`,
                )}
              </nav>
              <div class="status">
                <hiq-stream-badge></hiq-stream-badge>
                ${
                  // Under HA ingress, HA's own login is the sign-in; there is no token to forget.
                  UNDER_INGRESS
                    ? ""
                    : html`<button type="button" class="quiet" @click=${forgetToken} title="Forget the saved API token">
                      Sign out
                    </button>`
                }
              </div>`
            : ""
        }
      </header>
      <main id="main" tabindex="-1">${hasToken ? this._view() : html`<hiq-token-form></hiq-token-form>`}</main>
    `;
  }

  private _view() {
    const { view, param } = this._route.value;
    switch (view) {
      case "live":
        return html`<h1>Live events</h1>
          <hiq-live-events></hiq-live-events>`;
      case "entities":
        return html`<h1>Devices &amp; entities</h1>
          <hiq-entities></hiq-entities>`;
      case "suggestions":
        return html`<h1>Suggestions</h1>
          <hiq-suggestions></hiq-suggestions>`;
      case "webhooks":
        return html`<h1>Webhooks</h1>
          <hiq-webhooks></hiq-webhooks>`;
      case "enrichment":
        return html`<h1>Enrichment</h1>
          <hiq-enrichment></hiq-enrichment>`;
      case "insights":
        return html`<h1>Insights</h1>
          <hiq-insights></hiq-insights>`;
      case "entity":
        return html`<h1 class="sr-only">Entity detail</h1>
          <hiq-entity-detail entity-id=${param ?? ""}></hiq-entity-detail>`;
      default:
        return html`<h1>Overview</h1>
          <hiq-overview></hiq-overview>`;
    }
  }

  private _skip(e: Event): void {
    e.preventDefault();
    this.renderRoot.querySelector<HTMLElement>("#main")?.focus();
  }

  static override styles = [
    shared,
    css`
      :host {
        display: block;
        min-height: 100vh;
        color: var(--hiq-text, #1b1f24);
        font-family: var(--hiq-font, system-ui, sans-serif);
      }
      header {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 0.4rem 1.2rem;
        padding: 0.6rem 1rem;
        background: var(--hiq-surface, #fff);
        border-bottom: 1px solid var(--hiq-border, #d8dce2);
        position: sticky;
        top: 0;
        z-index: 2;
      }
      .brand {
        font-weight: 700;
        font-size: 1.05rem;
      }
      .logo {
        color: var(--hiq-accent, #1f6feb);
      }
      nav {
        display: flex;
        gap: 0.2rem;
        overflow-x: auto;
        flex: 1 1 auto;
        order: 0;
      }
      nav a {
        padding: 0.4rem 0.65rem;
        border-radius: 6px;
        text-decoration: none;
        color: var(--hiq-text, #1b1f24);
        white-space: nowrap;
        font-size: 0.92rem;
      }
      nav a[aria-current="page"] {
        background: var(--hiq-surface-2, #eef0f3);
        font-weight: 600;
      }
      .status {
        display: flex;
        align-items: center;
        gap: 0.5rem;
        margin-left: auto;
      }
      button.quiet {
        background: none;
        border-color: transparent;
        font-size: 0.82rem;
        color: var(--hiq-muted, #5b6470);
      }
      main {
        padding: 1rem;
        max-width: 72rem;
        margin: 0 auto;
        display: flex;
        flex-direction: column;
        gap: 0.8rem;
        outline: none;
      }
      h1 {
        font-size: 1.35rem;
      }
      .skip {
        position: absolute;
        left: -999px;
      }
      .skip:focus {
        left: 0.5rem;
        top: 0.5rem;
        z-index: 3;
        background: var(--hiq-surface, #fff);
        padding: 0.4rem;
      }
      @media (max-width: 600px) {
        header {
          padding: 0.5rem 0.75rem;
        }
        nav {
          order: 3;
          flex-basis: 100%;
        }
        main {
          padding: 0.75rem;
        }
      }
    `,
  ];
}

declare global {
  interface HTMLElementTagNameMap {
    "hiq-app": HiqApp;
  }
}
