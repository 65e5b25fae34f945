/**
 * One entity: its current state, attributes, and its history over a chosen range. Range presets reach
 * back 90 days; resolution `auto` lets the server pick raw, hourly or daily; dragging on the chart zooms
 * into a sub-range (fetched again at a finer tier).
 */
import { StoreController } from "@nanostores/lit";
import { css, html, LitElement, type PropertyValues } from "lit";
import { customElement, property, state } from "lit/decorators.js";
import { formatDateTime, stateParts } from "../format.ts";
import type { Resolution } from "../history-view.ts";
import { $entityDetail, loadEntity } from "../stores/entity-detail.ts";
import {
  $history,
  HISTORY_RANGES,
  setHistoryResolution,
  showHistory,
  zoomHistory,
} from "../stores/history.ts";
import { hrefFor } from "../stores/route.ts";
import { shared } from "../styles.ts";
import "./hiq-history-chart.ts";
import "./hiq-notice.ts";

const RESOLUTIONS: Resolution[] = ["auto", "raw", "hourly", "daily"];

@customElement("hiq-entity-detail")
export class HiqEntityDetail extends LitElement {
  @property({ type: String, attribute: "entity-id" }) entityId = "";
  @state() private _rangeMs: number = HISTORY_RANGES[1].ms;
  private _detail = new StoreController(this, $entityDetail);
  private _history = new StoreController(this, $history);

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has("entityId") && this.entityId) {
      void loadEntity(this.entityId);
      showHistory(this.entityId, this._rangeMs);
    }
  }

  override render() {
    const d = this._detail.value;
    return html`
      <nav class="crumbs"><a href=${hrefFor("entities")}>← Devices &amp; entities</a></nav>
      ${
        d.status === "loading"
          ? html`<hiq-notice kind="loading">Loading ${this.entityId}…</hiq-notice>`
          : d.status === "not_found"
            ? html`<hiq-notice kind="empty">No entity <code>${this.entityId}</code> is known to HomeIQ.</hiq-notice>`
            : d.status === "error"
              ? html`<hiq-notice kind="error" .detail=${d.error ?? ""}>Could not load ${this.entityId}.</hiq-notice>`
              : this._header()
      }
      ${d.status === "not_found" ? "" : this._chart()} ${d.entity ? this._attributes(d.entity.attributes) : ""}
    `;
  }

  private _header() {
    const e = this._detail.value.entity;
    if (!e) return "";
    return html`<section class="card head" aria-labelledby="entity-title">
      <div>
        <h2 id="entity-title">${e.name}</h2>
        <div class="mono muted">${e.entityId}</div>
        <div class="muted meta">
          ${[e.area, e.device].filter(Boolean).join(" · ")}${e.area || e.device ? " · " : ""}changed
          ${formatDateTime(e.lastChanged)}
        </div>
      </div>
      <div class="state" aria-label="Current state">
        ${this._state(e.state, e.unit)}
      </div>
    </section>`;
  }

  private _state(state: string | null, unit: string | null) {
    const p = stateParts(state, unit);
    return html`${p.value}${p.unit ? html`<span class="unit"> ${p.unit}</span>` : ""}`;
  }

  private _chart() {
    const h = this._history.value;
    const e = this._detail.value.entity;
    const numeric = h.columns?.ys.some((y) => y !== null) ?? false;
    return html`<section class="card" aria-labelledby="history-title">
      <div class="chart-head">
        <h3 id="history-title">History</h3>
        <div class="toolbar" role="group" aria-label="History range">
          ${HISTORY_RANGES.map(
            (r) => html`<button
              type="button"
              aria-pressed=${this._rangeMs === r.ms ? "true" : "false"}
              class=${this._rangeMs === r.ms ? "primary" : ""}
              @click=${() => this._setRange(r.ms)}
            >
              ${r.label}
            </button>`,
          )}
          <label class="field inline" for="resolution"
            >Resolution
            <select
              id="resolution"
              @change=${(ev: Event) => setHistoryResolution((ev.target as HTMLSelectElement).value as Resolution)}
            >
              ${RESOLUTIONS.map((r) => html`<option value=${r} ?selected=${h.resolution === r}>${r}</option>`)}
            </select>
          </label>
        </div>
      </div>
      <p class="muted range" aria-live="polite">
        ${formatDateTime(h.from)} – ${formatDateTime(h.to)}${h.columns ? ` · ${h.columns.tier} tier, ${h.columns.xs.length} points` : ""}
        ${h.status === "loading" ? " · loading…" : ""}
        ${
          h.from !== 0 && h.to - h.from < this._rangeMs * 0.99
            ? html`<button type="button" class="link" @click=${() => this._setRange(this._rangeMs)}>Zoom out</button>`
            : ""
        }
      </p>
      ${
        h.status === "error"
          ? html`<hiq-notice kind="error" .detail=${h.error ?? ""}>Could not load the history.</hiq-notice>`
          : ""
      }
      ${
        h.columns && h.columns.xs.length > 0 && !numeric
          ? html`<hiq-notice kind="empty">This entity's states are not numeric, so there is nothing to plot.</hiq-notice>`
          : ""
      }
      ${
        h.status !== "loading" && h.columns && h.columns.xs.length === 0
          ? html`<hiq-notice kind="empty">No history in this range.</hiq-notice>`
          : ""
      }
      ${h.status === "loading" && !h.columns ? html`<hiq-notice kind="loading">Loading history…</hiq-notice>` : ""}
      <hiq-history-chart
        .columns=${h.columns}
        .range=${h.to > h.from ? { from: h.from, to: h.to } : null}
        .unit=${e?.unit ?? ""}
        .label=${e?.name ?? this.entityId}
        @hiq-zoom=${(ev: CustomEvent<{ from: number; to: number }>) => zoomHistory(ev.detail.from, ev.detail.to)}
        ?hidden=${!h.columns || h.columns.xs.length === 0 || !numeric}
      ></hiq-history-chart>
      <p class="muted hint">Drag across the chart to zoom in.</p>
    </section>`;
  }

  private _attributes(attributes: Record<string, unknown>) {
    const entries = Object.entries(attributes);
    return html`<section class="card" aria-labelledby="attr-title">
      <h3 id="attr-title">Attributes</h3>
      ${
        entries.length === 0
          ? html`<hiq-notice kind="empty">No attributes.</hiq-notice>`
          : html`<dl>
            ${entries.map(
              ([k, v]) =>
                html`<dt class="mono">${k}</dt>
                  <dd>${typeof v === "object" ? JSON.stringify(v) : String(v)}</dd>`,
            )}
          </dl>`
      }
    </section>`;
  }

  private _setRange(ms: number): void {
    this._rangeMs = ms;
    showHistory(this.entityId, ms);
  }

  static override styles = [
    shared,
    css`
      :host {
        display: flex;
        flex-direction: column;
        gap: 0.9rem;
      }
      .crumbs a {
        text-decoration: none;
        font-size: 0.9rem;
      }
      .head {
        display: flex;
        justify-content: space-between;
        gap: 1rem;
        flex-wrap: wrap;
        align-items: center;
      }
      .head > div:first-child {
        min-width: 0;
        overflow-wrap: anywhere;
      }
      .meta {
        font-size: 0.85rem;
        margin-top: 0.25rem;
      }
      .state {
        font-size: 2rem;
        font-weight: 600;
        font-variant-numeric: tabular-nums;
        word-break: break-word;
      }
      .unit {
        font-size: 1rem;
        color: var(--hiq-muted, #5b6470);
      }
      .chart-head {
        display: flex;
        justify-content: space-between;
        align-items: center;
        gap: 0.6rem;
        flex-wrap: wrap;
        margin-bottom: 0.3rem;
      }
      .toolbar {
        align-items: center;
      }
      .toolbar button {
        padding: 0.3rem 0.55rem;
        font-size: 0.82rem;
      }
      .inline {
        flex-direction: row;
        align-items: center;
        gap: 0.4rem;
      }
      .range,
      .hint {
        font-size: 0.8rem;
        margin: 0.3rem 0;
      }
      button.link {
        border: none;
        background: none;
        color: var(--hiq-accent, #1f6feb);
        padding: 0 0.3rem;
        min-height: 0;
        text-decoration: underline;
      }
      dl {
        display: grid;
        grid-template-columns: minmax(6rem, max-content) minmax(0, 1fr);
        gap: 0.3rem 1rem;
        margin: 0.5rem 0 0;
        font-size: 0.88rem;
      }
      dt {
        color: var(--hiq-muted, #5b6470);
      }
      dd {
        margin: 0;
        word-break: break-word;
      }
    `,
  ];
}

declare global {
  interface HTMLElementTagNameMap {
    "hiq-entity-detail": HiqEntityDetail;
  }
}
