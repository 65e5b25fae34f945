/**
 * Enrichment: one card per external source with its latest values, how fresh they are, and why it is
 * not healthy when it is not (stale values, open circuit breaker, last error).
 */
import { StoreController } from "@nanostores/lit";
import { css, html, LitElement } from "lit";
import { customElement } from "lit/decorators.js";
import type { SourceView } from "../../../runtime/api/enrichment/model.ts";
import { formatDateTime, formatDuration } from "../format.ts";
import { $enrichment } from "../stores/enrichment.ts";
import { shared } from "../styles.ts";
import "./hiq-notice.ts";

const TONE: Record<SourceView["health"], string> = {
  ok: "ok",
  stale: "warn",
  "no-data": "warn",
  "waiting-for-location": "warn",
  disabled: "off",
  "not-running": "bad",
};

const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

/** `temperature_c` -> `temperature (c)`: readable without a per-metric table. */
function metricLabel(metric: string): string {
  const parts = metric.split("_");
  const unit = parts.length > 1 ? parts.pop() : undefined;
  return unit ? `${parts.join(" ")} (${unit})` : metric;
}

@customElement("hiq-enrichment")
export class HiqEnrichment extends LitElement {
  private _enrichment = new StoreController(this, $enrichment);

  override render() {
    const { status, sources, error } = this._enrichment.value;
    if (status === "loading")
      return html`<hiq-notice kind="loading">Loading enrichment sources…</hiq-notice>`;
    return html`
      ${
        status === "error"
          ? html`<hiq-notice kind="error" .detail=${error ?? ""}>Could not load the enrichment sources.</hiq-notice>`
          : ""
      }
      ${
        sources.length === 0 && status === "ready"
          ? html`<hiq-notice kind="empty">No enrichment sources are configured.</hiq-notice>`
          : ""
      }
      <div class="grid">${sources.map((s) => this._card(s))}</div>
    `;
  }

  private _card(s: SourceView) {
    return html`<section class="card" aria-labelledby=${`src-${s.source}`} data-source=${s.source}>
      <div class="head">
        <h2 id=${`src-${s.source}`}>${s.source}</h2>
        <span class="badge ${TONE[s.health]}">${s.health.replaceAll("-", " ")}</span>
      </div>
      ${
        s.health === "disabled"
          ? html`<p class="muted">
              Turned off. Turn on with
              <code>HOMEIQ_ENRICHERS_${s.source.toUpperCase().replaceAll("-", "_")}=true</code>.
            </p>`
          : s.values.length === 0
            ? html`<p class="muted">No values yet.</p>`
            : html`<dl>
            ${s.values.map(
              (v) => html`<dt>${metricLabel(v.metric)}</dt>
                <dd>${number.format(v.value)}</dd>`,
            )}
          </dl>`
      }
      <p class="muted small">
        ${s.fetchedAt ? html`Fetched ${formatDateTime(s.fetchedAt)}` : "Never fetched"}${
          s.ageMs != null ? ` · ${formatDuration(s.ageMs)} old` : ""
        }${s.breaker !== "closed" ? ` · breaker ${s.breaker}` : ""}
      </p>
      ${
        s.lastError
          ? html`<p class="error small">
            ${s.lastError.reason}: ${s.lastError.detail} (${formatDateTime(s.lastError.at)})
          </p>`
          : ""
      }
    </section>`;
  }

  static override styles = [
    shared,
    css`
      .grid {
        display: grid;
        grid-template-columns: repeat(auto-fill, minmax(min(16rem, 100%), 1fr));
        gap: 0.75rem;
      }
      .head {
        display: flex;
        justify-content: space-between;
        align-items: center;
        gap: 0.5rem;
      }
      h2 {
        text-transform: capitalize;
      }
      .badge {
        font-size: 0.75rem;
        padding: 0.1rem 0.5rem;
        border-radius: 999px;
        border: 1px solid currentColor;
        white-space: nowrap;
      }
      .ok {
        color: var(--hiq-ok, #1a7f37);
      }
      .warn {
        color: var(--hiq-warn, #9a6700);
      }
      .bad,
      .error {
        color: var(--hiq-bad, #cf222e);
      }
      .off {
        color: var(--hiq-muted, #5b6470);
      }
      dl {
        display: grid;
        grid-template-columns: minmax(0, 1fr) auto;
        gap: 0.25rem 1rem;
        margin: 0.6rem 0;
        font-size: 0.9rem;
      }
      dt {
        color: var(--hiq-muted, #5b6470);
      }
      dd {
        margin: 0;
        font-weight: 600;
        font-variant-numeric: tabular-nums;
        text-align: right;
      }
      .small {
        font-size: 0.8rem;
        margin: 0.3rem 0 0;
        word-break: break-word;
      }
    `,
  ];
}

declare global {
  interface HTMLElementTagNameMap {
    "hiq-enrichment": HiqEnrichment;
  }
}
