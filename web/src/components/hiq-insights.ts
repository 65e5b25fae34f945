/**
 * Insights: entity health (what is unavailable, stale, flapping or low on battery, and since when), energy
 * impact (each device's measured power step with its confidence and sample count, its share, the home's
 * standby load), the last 24 h of activity, and a search whose results can be traced to their causes.
 */
import { StoreController } from "@nanostores/lit";
import { css, html, LitElement } from "lit";
import { customElement, state } from "lit/decorators.js";
import { formatCount, formatDateTime, formatDuration } from "../format.ts";
import { $insightSearch, $insights, searchInsights, traceInsight } from "../stores/insights.ts";
import { shared } from "../styles.ts";
import "./hiq-notice.ts";

const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });

@customElement("hiq-insights")
export class HiqInsights extends LitElement {
  private _insights = new StoreController(this, $insights);
  private _search = new StoreController(this, $insightSearch);
  @state() private _q = "";

  override render() {
    return html`<div class="grid">${this._health()} ${this._energy()}</div>
      ${this._activity()} ${this._searchPanel()}`;
  }

  private _health() {
    const { health, errors } = this._insights.value;
    return html`<section class="card" aria-labelledby="ins-health">
      <h2 id="ins-health">Entity health</h2>
      ${errors.health ? html`<hiq-notice kind="error" .detail=${errors.health}>Health is not available.</hiq-notice>` : ""}
      ${
        !health
          ? errors.health
            ? ""
            : html`<hiq-notice kind="loading">Judging entity health…</hiq-notice>`
          : health.items.length === 0
            ? html`<p class="muted">All ${formatCount(health.entities)} entities look healthy.</p>`
            : html`<p class="muted small">
                  ${health.total} of ${formatCount(health.entities)} entities need a look · judged
                  ${formatDateTime(health.computedAt)}
                </p>
                <table>
                  <thead><tr><th>Entity</th><th>Status</th><th>Since</th></tr></thead>
                  <tbody>
                    ${health.items.map(
                      (v) => html`<tr data-status=${v.status}>
                        <td>
                          <span class="mono">${v.entity_id}</span>${v.name ? html` <span class="muted small">${v.name}</span>` : ""}
                          <br /><span class="small">${v.issues[0]?.detail ?? ""}</span>
                        </td>
                        <td><span class="badge ${v.status}">${v.status.replace("_", " ")}</span></td>
                        <td title=${formatDateTime(v.since)}>${formatDuration(health.computedAt - v.since)} ago</td>
                      </tr>`,
                    )}
                  </tbody>
                </table>`
      }
    </section>`;
  }

  private _energy() {
    const { energy, errors } = this._insights.value;
    return html`<section class="card" aria-labelledby="ins-energy">
      <h2 id="ins-energy">Energy impact</h2>
      ${errors.energy ? html`<hiq-notice kind="error" .detail=${errors.energy}>Energy is not available.</hiq-notice>` : ""}
      ${
        !energy
          ? errors.energy
            ? ""
            : html`<hiq-notice kind="loading">Measuring power steps…</hiq-notice>`
          : html`<p class="muted small">
                ${energy.homeSensor ? html`Home meter <span class="mono">${energy.homeSensor}</span>` : "No home power meter found"}
                ${energy.totalKWh != null ? html` · ${number.format(energy.totalKWh)} kWh` : ""}
                ${energy.standbyW != null ? html` · standby ${number.format(energy.standbyW)} W` : ""}
                ${energy.standbyShare != null ? html` (${percent.format(energy.standbyShare)})` : ""}
              </p>
              <table>
                <thead><tr><th>Device</th><th>Step</th><th>Confidence</th><th>Samples</th><th>kWh</th><th>Share</th></tr></thead>
                <tbody>
                  ${energy.devices
                    .filter((d) => d.samples > 0)
                    .map(
                      (d) => html`<tr data-confidence=${d.confidence}>
                      <td class="mono">${d.entity_id}</td>
                      <td>${d.stepW != null ? `${number.format(d.stepW)} W` : html`<span class="muted">not measurable</span>`}</td>
                      <td><span class="badge ${d.confidence}">${d.confidence}</span></td>
                      <td title="${d.overlapped} set aside (overlapping), ${d.noData} without readings">${d.samples}</td>
                      <td>${d.kWh != null ? number.format(d.kWh) : "—"}</td>
                      <td>${d.share != null ? percent.format(d.share) : "—"}</td>
                    </tr>`,
                    )}
                </tbody>
              </table>
              ${this._unmeasured(energy.totalDevices - energy.devices.filter((d) => d.samples > 0).length)}`
      }
    </section>`;
  }

  private _unmeasured(n: number) {
    return n > 0
      ? html`<p class="small muted">
          ${n} more switchable devices have no clean on/off event with power readings around it yet.
        </p>`
      : "";
  }

  private _activity() {
    const { stats, errors } = this._insights.value;
    if (!stats)
      return errors.stats
        ? html`<hiq-notice kind="error" .detail=${errors.stats}>Activity is not available.</hiq-notice>`
        : "";
    const peak = Math.max(1, ...stats.series.map((p) => p.count));
    // Bar heights through the CSSOM (`.style` property): the CSP refuses inline style attributes, and
    // Lit's styleMap writes one on first render.
    return html`<section class="card" aria-labelledby="ins-activity">
      <h2 id="ins-activity">Last 24 h: ${formatCount(stats.total)} events</h2>
      <div class="bars" role="img" aria-label="Events per hour over the last 24 hours">
        ${stats.series.map(
          (p) =>
            html`<span .style=${`height:${(100 * p.count) / peak}%`} title="${formatDateTime(p.ts)}: ${formatCount(p.count)}"></span>`,
        )}
      </div>
      <p class="small">
        Busiest: ${stats.busiest.slice(0, 5).map((b) => html`<span class="mono">${b.entity_id}</span> (${formatCount(b.count)}) `)}
      </p>
      <p class="small muted">${stats.domains.map((d) => `${d.domain} ${formatCount(d.count)}`).join(" · ")}</p>
    </section>`;
  }

  private _searchPanel() {
    const { status, page, error, trace } = this._search.value;
    return html`<section class="card" aria-labelledby="ins-search">
      <h2 id="ins-search">Search events</h2>
      <form class="toolbar" @submit=${this._submit}>
        <input type="search" aria-label="Search terms" placeholder="e.g. kitchen on" .value=${this._q}
          @input=${(e: Event) => {
            this._q = (e.target as HTMLInputElement).value;
          }} />
        <button type="submit">Search</button>
      </form>
      ${error ? html`<hiq-notice kind="error" .detail=${error}>The search failed.</hiq-notice>` : ""}
      ${status === "loading" ? html`<hiq-notice kind="loading">Searching…</hiq-notice>` : ""}
      ${
        page
          ? html`<ul class="hits">
                ${page.items.map(
                  (h) => html`<li>
                    <button type="button" class="quiet" @click=${() => traceInsight(h.id)} title="Trace causes and effects">
                      <span class="muted">${formatDateTime(h.ts)}</span> <span class="mono">${h.entity_id}</span> → <b>${h.state}</b>
                    </button>
                  </li>`,
                )}
              </ul>
              <p class="small muted">
                ${page.items.length === 0 ? "No matches" : ""} searched back to ${formatDateTime(page.scannedFrom)}
                ${page.nextCursor ? html`<button type="button" @click=${() => searchInsights(this._q, true)}>Older…</button>` : ""}
              </p>`
          : ""
      }
      ${trace ? this._trace(trace) : ""}
    </section>`;
  }

  private _trace(trace: NonNullable<ReturnType<typeof $insightSearch.get>["trace"]>) {
    const origin = trace.origin;
    return html`<div class="trace" aria-label="Trace">
      <h3>Trace of <span class="mono">${trace.target.entity_id}</span> → ${trace.target.state}</h3>
      <p class="small">Started by ${origin.kind === "user" ? `user ${origin.user_id}` : origin.kind.replace("_", " ")}
        ${origin.entity_id ? html`<span class="mono">${origin.entity_id}</span>` : ""}${trace.truncated ? " (cut short)" : ""}</p>
      <ol>
        ${[...trace.causes, ...trace.effects].map(
          (s) => html`<li class=${s.depth === 0 ? "self" : ""}>
            <span class="badge">${s.depth < 0 ? "cause" : s.depth === 0 ? "this" : "effect"} · ${s.kind.replace("_", " ")}</span>
            ${s.events.map((e) => html` <span class="mono">${e.entity_id}</span>=${e.state}`)}
          </li>`,
        )}
      </ol>
    </div>`;
  }

  private _submit(e: Event): void {
    e.preventDefault();
    void searchInsights(this._q);
  }

  static override styles = [
    shared,
    css`
      :host {
        display: grid;
        gap: 0.75rem;
      }
      .grid {
        display: grid;
        grid-template-columns: repeat(auto-fit, minmax(min(26rem, 100%), 1fr));
        gap: 0.75rem;
      }
      table {
        width: 100%;
        border-collapse: collapse;
        font-size: 0.85rem;
      }
      th,
      td {
        overflow-wrap: anywhere;
        text-align: left;
        padding: 0.25rem 0.4rem;
        border-bottom: 1px solid var(--hiq-border, #d8dce2);
        vertical-align: top;
      }
      .small {
        font-size: 0.8rem;
      }
      .badge {
        font-size: 0.72rem;
        padding: 0.05rem 0.45rem;
        border-radius: 999px;
        border: 1px solid currentColor;
        white-space: nowrap;
      }
      .unavailable,
      .unknown,
      .none {
        color: var(--hiq-bad, #cf222e);
      }
      .stale,
      .flapping,
      .low_battery,
      .low {
        color: var(--hiq-warn, #9a6700);
      }
      .high,
      .medium {
        color: var(--hiq-ok, #1a7f37);
      }
      .bars {
        display: flex;
        align-items: flex-end;
        gap: 2px;
        height: 4rem;
        margin: 0.5rem 0;
      }
      .bars span {
        flex: 1;
        min-height: 1px;
        background: var(--hiq-accent, #0969da);
        border-radius: 2px 2px 0 0;
      }
      .hits {
        list-style: none;
        padding: 0;
        margin: 0.5rem 0;
        max-height: 20rem;
        overflow: auto;
      }
      .hits button {
        text-align: left;
        width: 100%;
      }
      .trace ol {
        padding-left: 1.2rem;
      }
      .trace .self {
        font-weight: 600;
      }
    `,
  ];
}
