/**
 * Suggestions: automations HomeIQ proposes from the home's history — why (evidence, confidence), the
 * Home Assistant YAML to paste, and accept / dismiss (a dismissed one is never proposed again).
 */
import { StoreController } from "@nanostores/lit";
import { css, html, LitElement } from "lit";
import { customElement } from "lit/decorators.js";
import { formatDateTime, formatDuration } from "../format.ts";
import {
  $suggestions,
  decideSuggestion,
  loadSuggestions,
  mineSuggestions,
  type Suggestion,
  type SuggestionStatus,
} from "../stores/suggestions.ts";
import { shared } from "../styles.ts";
import "./hiq-notice.ts";

const FILTERS: SuggestionStatus[] = ["open", "accepted", "dismissed", "all"];

@customElement("hiq-suggestions")
export class HiqSuggestions extends LitElement {
  private _suggestions = new StoreController(this, $suggestions);

  override render() {
    const s = this._suggestions.value;
    const run = s.lastRun;
    return html`
      <div class="toolbar">
        <label class="field" for="status"
          >Show
          <select id="status" @change=${(e: Event) => loadSuggestions((e.target as HTMLSelectElement).value as SuggestionStatus)}>
            ${FILTERS.map((f) => html`<option value=${f} ?selected=${s.filter === f}>${f}</option>`)}
          </select>
        </label>
        <button type="button" ?disabled=${s.busy || s.running} @click=${mineSuggestions}>
          ${s.busy || s.running ? "Mining…" : "Mine history now"}
        </button>
      </div>
      <p class="muted small">
        ${
          run
            ? `Last run ${formatDateTime(run.finishedAt)} (${run.trigger}, ${formatDuration(run.ms)}): ${run.events} events read, ${run.found} patterns found${run.error ? ` — error: ${run.error}` : ""}`
            : "The history has not been mined yet."
        }
      </p>
      ${s.error ? html`<hiq-notice kind="error" .detail=${s.error}>The request failed.</hiq-notice>` : ""}
      ${
        s.status === "loading"
          ? html`<hiq-notice kind="loading">Loading suggestions…</hiq-notice>`
          : s.items.length === 0
            ? html`<hiq-notice kind="empty">No ${s.filter === "all" ? "" : `${s.filter} `}suggestions.</hiq-notice>`
            : s.items.map((item) => this._card(item))
      }
    `;
  }

  private _card(item: Suggestion) {
    const busy = this._suggestions.value.busy;
    return html`<article class="card" aria-labelledby=${`s-${item.id}`}>
      <div class="head">
        <h2 id=${`s-${item.id}`}>${item.title}</h2>
        <span class="muted small">${Math.round(item.evidence.confidence * 100)}% confidence</span>
      </div>
      <p>${item.explanation}</p>
      <p class="muted small">
        ${item.evidence.count} occurrences on ${item.evidence.dayCount} days · ${item.entities.join(", ")}
      </p>
      <details>
        <summary>Home Assistant automation YAML</summary>
        <pre class="mono">${item.yaml}</pre>
      </details>
      ${
        item.status === "open"
          ? html`<div class="buttons">
            <button type="button" class="primary" ?disabled=${busy} @click=${() => decideSuggestion(item.id, "accept")}>
              Accept
            </button>
            <button type="button" ?disabled=${busy} @click=${() => decideSuggestion(item.id, "dismiss")}>Dismiss</button>
          </div>`
          : html`<p class="muted small">${item.status} ${formatDateTime(item.statusAt)}</p>`
      }
    </article>`;
  }

  static override styles = [
    shared,
    css`
      :host {
        display: flex;
        flex-direction: column;
        gap: 0.75rem;
      }
      .head {
        display: flex;
        justify-content: space-between;
        gap: 0.5rem;
        flex-wrap: wrap;
        align-items: baseline;
      }
      p {
        margin: 0.4rem 0;
        line-height: 1.4;
      }
      .small {
        font-size: 0.82rem;
      }
      pre {
        overflow-x: auto;
        background: var(--hiq-surface-2, #eef0f3);
        padding: 0.6rem;
        border-radius: 6px;
        font-size: 0.8rem;
      }
      summary {
        cursor: pointer;
        font-size: 0.88rem;
      }
      .buttons {
        display: flex;
        gap: 0.4rem;
        margin-top: 0.5rem;
      }
    `,
  ];
}

declare global {
  interface HTMLElementTagNameMap {
    "hiq-suggestions": HiqSuggestions;
  }
}
