/**
 * Overview: is the home connected, is data flowing and landing, is anything behind? Polls the
 * consolidated metrics every second while shown; a failed poll keeps the last figures, marked stale.
 */
import { StoreController } from "@nanostores/lit";
import { css, html, LitElement } from "lit";
import { customElement } from "lit/decorators.js";
import { formatBytes, formatCount, formatDateTime, formatDuration, formatRate } from "../format.ts";
import { type ActorView, INFLUX_NOT_CONFIGURED, type MetricsView } from "../metrics-view.ts";
import { $liveEvents } from "../stores/live-events.ts";
import { $metrics } from "../stores/metrics.ts";
import { shared } from "../styles.ts";
import "./hiq-history-import.ts";
import "./hiq-notice.ts";
import "./hiq-stat.ts";

const HA_TONE: Record<string, "ok" | "warn" | "bad"> = {
  connected: "ok",
  connecting: "warn",
  disconnected: "bad",
  auth_invalid: "bad",
};

@customElement("hiq-overview")
export class HiqOverview extends LitElement {
  private _metrics = new StoreController(this, $metrics);
  private _live = new StoreController(this, $liveEvents);

  private _painted = false;

  protected override updated(): void {
    // The first time real figures are on screen: the dashboard's "first meaningful paint".
    if (!this._painted && this._metrics.value.data) {
      this._painted = true;
      if (performance.getEntriesByName("hiq:first-figures").length === 0)
        performance.mark("hiq:first-figures");
    }
  }

  override render() {
    const { status, data, error, updatedAt } = this._metrics.value;
    if (!data) {
      return status === "error"
        ? html`<hiq-notice kind="error" .detail=${error ?? ""}>Could not load the metrics.</hiq-notice>`
        : html`<hiq-notice kind="loading">Loading metrics…</hiq-notice>`;
    }
    return html`
      ${
        status === "error"
          ? html`<hiq-notice kind="offline" .detail=${error ?? ""}
            >Showing figures from ${formatDateTime(updatedAt)}; HomeIQ is not answering.</hiq-notice
          >`
          : ""
      }
      <hiq-history-import></hiq-history-import>
      ${this._figures(data)}
      <section class="card" aria-labelledby="actors-title">
        <h2 id="actors-title">Actors</h2>
        ${
          data.actors.length === 0
            ? html`<hiq-notice kind="empty">No actor status reported.</hiq-notice>`
            : this._actors(data.actors)
        }
      </section>
    `;
  }

  private _figures(m: MetricsView) {
    const live = this._live.value;
    return html`<section class="grid" aria-label="Key figures">
      <hiq-stat
        data-metric="ha"
        label="Home Assistant"
        .display=${m.ha.state.replace("_", " ")}
        .sub=${m.ha.error ?? (m.ha.version ? `version ${m.ha.version}` : (m.ha.url ?? ""))}
        tone=${HA_TONE[m.ha.state] ?? ""}
      ></hiq-stat>
      <hiq-stat
        data-metric="rate"
        label="Events in"
        .value=${m.receivedRate}
        .display=${formatRate(m.receivedRate)}
        .sub=${`live feed ${formatRate(live.rate)}`}
      ></hiq-stat>
      <hiq-stat
        data-metric="received"
        label="Events received"
        .value=${m.received}
        .display=${formatCount(m.received)}
        .sub=${m.spoolEvents > 0 ? `${formatCount(m.spoolEvents)} spooled` : ""}
      ></hiq-stat>
      <hiq-stat
        data-metric="stored"
        label="Events stored"
        .value=${m.stored}
        .display=${formatCount(m.stored)}
        .sub=${`${formatRate(m.storedRate)} · ${formatCount(m.duplicates)} duplicates`}
      ></hiq-stat>
      ${m.influxConfigured ? this._influx(m) : this._noInflux()}
      <hiq-stat
        data-metric="store"
        label="Store size"
        .value=${m.storeBytes}
        .display=${formatBytes(m.storeBytes)}
        .sub=${`${formatCount(m.storeEvents)} raw events`}
      ></hiq-stat>
      <hiq-stat
        data-metric="memory"
        label="Memory"
        .value=${m.rssBytes}
        .display=${formatBytes(m.rssBytes)}
        .sub=${`resident · ${formatDuration(m.cpuSeconds * 1000)} CPU`}
      ></hiq-stat>
    </section>`;
  }

  private _influx(m: MetricsView) {
    return html`<hiq-stat
        data-metric="exported"
        label="Exported to InfluxDB"
        .value=${m.exported}
        .display=${formatCount(m.exported)}
        .sub=${`${formatRate(m.exportedRate)}${m.deadLetters > 0 ? ` · ${formatCount(m.deadLetters)} dead letters` : ""}`}
        tone=${m.deadLetters > 0 ? "warn" : ""}
      ></hiq-stat>
      <hiq-stat
        data-metric="influx-lag"
        label="InfluxDB lag"
        .value=${m.influxLagEvents}
        .display=${`${formatCount(m.influxLagEvents)} events`}
        .sub=${formatDuration(m.influxLagSeconds * 1000)}
        tone=${m.influxLagSeconds > 60 ? "warn" : ""}
      ></hiq-stat>`;
  }

  /** Without InfluxDB, "Exported 0" would read as a fault; say what is missing and how to add it. */
  private _noInflux() {
    return html`<hiq-stat
      data-metric="influx"
      label="InfluxDB"
      display="not configured"
      sub="set HOMEIQ_INFLUX_URL to mirror events"
      title=${INFLUX_NOT_CONFIGURED}
    ></hiq-stat>`;
  }

  private _actors(actors: ActorView[]) {
    return html`<div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Actor</th>
            <th scope="col">State</th>
            <th scope="col">Restarts</th>
            <th scope="col">CPU time</th>
            <th scope="col">Mailbox</th>
            <th scope="col">Sending (unacknowledged)</th>
          </tr>
        </thead>
        <tbody>
          ${actors.map(
            (a) => html`<tr>
              <th scope="row">${a.name}</th>
              <td>
                <span class="state ${a.state}">${a.state}</span>
                ${a.lastError ? html`<div class="err">${a.lastError}</div>` : ""}
              </td>
              <td>${a.restarts}</td>
              <td>${a.cpuSeconds > 0 ? formatDuration(a.cpuSeconds * 1000) : "—"}</td>
              <td>${a.mailboxDepth ?? "—"}</td>
              <td>
                ${
                  a.outbound.length === 0
                    ? html`<span class="muted">—</span>`
                    : a.outbound.map(
                        (e) =>
                          html`<div class="edge"><span class="mono">${e.edge}</span> ${e.outstanding}</div>`,
                      )
                }
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>`;
  }

  static override styles = [
    shared,
    css`
      :host {
        display: flex;
        flex-direction: column;
        gap: 1rem;
      }
      .grid {
        display: grid;
        grid-template-columns: repeat(auto-fill, minmax(min(9.5rem, 100%), 1fr));
        gap: 0.75rem;
      }
      .table-wrap {
        overflow-x: auto;
        margin-top: 0.5rem;
      }
      table {
        border-collapse: collapse;
        width: 100%;
        font-size: 0.88rem;
      }
      th,
      td {
        text-align: left;
        padding: 0.4rem 0.5rem;
        border-bottom: 1px solid var(--hiq-border, #d8dce2);
        vertical-align: top;
      }
      thead th {
        font-weight: 600;
        color: var(--hiq-muted, #5b6470);
        font-size: 0.8rem;
      }
      .state {
        font-weight: 600;
      }
      .state.running,
      .state.ready {
        color: var(--hiq-ok, #1a7f37);
      }
      .state.restarting,
      .state.starting,
      .state.stopping {
        color: var(--hiq-warn, #9a6700);
      }
      .state.failed,
      .state.stopped {
        color: var(--hiq-bad, #cf222e);
      }
      .err {
        font-size: 0.78rem;
        color: var(--hiq-bad, #cf222e);
      }
      .edge {
        white-space: nowrap;
      }
    `,
  ];
}

declare global {
  interface HTMLElementTagNameMap {
    "hiq-overview": HiqOverview;
  }
}
