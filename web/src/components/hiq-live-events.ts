/**
 * Live events: every state change as it is stored, newest first. The list is virtualized (only visible
 * rows exist in the DOM) and fed in batches (one update per animation frame, ~10 a second at most), so
 * it stays smooth at 1,000 events/s.
 * Filter by part of an entity id or a domain; pause to read, resume to catch up.
 * Keyboard: the list itself takes focus (arrow keys scroll it); its row links stay out of the tab order,
 * since rows are re-bound to newer events several times a second (entities are a Tab away under
 * Devices & entities).
 */
import "@lit-labs/virtualizer";
import { StoreController } from "@nanostores/lit";
import { css, html, LitElement } from "lit";
import { customElement } from "lit/decorators.js";
import { formatClock, formatCount, formatRate, formatState } from "../format.ts";
import { type LiveEvent, matchesFilter } from "../live-event.ts";
import {
  $liveEvents,
  clearLiveEvents,
  LIVE_EVENTS_MAX,
  pauseLiveEvents,
  resumeLiveEvents,
  setLiveFilter,
} from "../stores/live-events.ts";
import { hrefFor } from "../stores/route.ts";
import { $stream } from "../stores/stream.ts";
import { shared } from "../styles.ts";
import "./hiq-notice.ts";

@customElement("hiq-live-events")
export class HiqLiveEvents extends LitElement {
  private _live = new StoreController(this, $liveEvents);
  private _stream = new StoreController(this, $stream);
  private _filtered: { items: LiveEvent[]; filter: string; source: LiveEvent[] } = {
    items: [],
    filter: "",
    source: [],
  };

  /** Filtering is memoised on (items, filter): a re-render without new events costs nothing. */
  private _visible(): LiveEvent[] {
    const { items, filter } = this._live.value;
    const memo = this._filtered;
    if (memo.source !== items || memo.filter !== filter) {
      this._filtered = {
        source: items,
        filter,
        items: filter === "" ? items : items.filter((e) => matchesFilter(e, filter)),
      };
    }
    return this._filtered.items;
  }

  override updated(): void {
    // Exposed for tests and tools: how many events arrived and how many rows the filter keeps.
    this.dataset.received = String(this._live.value.received);
    this.dataset.visible = String(this._filtered.items.length);
  }

  override render() {
    const live = this._live.value;
    const stream = this._stream.value;
    const visible = this._visible();
    return html`
      <div class="toolbar" role="group" aria-label="Live events controls">
        <label class="field grow" for="filter"
          >Filter by entity or domain
          <input
            id="filter"
            type="search"
            placeholder="e.g. light or kitchen"
            autocomplete="off"
            .value=${live.filter}
            @input=${(e: Event) => setLiveFilter((e.target as HTMLInputElement).value)}
          />
        </label>
        <button
          type="button"
          class=${live.paused ? "primary" : ""}
          aria-pressed=${live.paused ? "true" : "false"}
          @click=${() => (live.paused ? resumeLiveEvents() : pauseLiveEvents())}
        >
          ${live.paused ? "Resume" : "Pause"}
        </button>
        <button type="button" @click=${clearLiveEvents}>Clear</button>
      </div>
      <p class="summary muted" aria-live="polite">
        ${formatCount(live.received)} received · ${formatRate(live.rate)} ·
        showing ${formatCount(visible.length)} of the latest ${formatCount(LIVE_EVENTS_MAX)}
        ${live.paused ? html` · <strong>paused</strong>, ${formatCount(live.pending)} waiting` : ""}
      </p>
      ${
        stream.status !== "open" && stream.status !== "idle"
          ? html`<hiq-notice kind="offline" .detail=${stream.lastError ?? ""}
            >Live stream ${stream.status === "unauthorized" ? "refused the token" : "disconnected; reconnecting by itself"}.</hiq-notice
          >`
          : ""
      }
      ${
        visible.length === 0
          ? html`<hiq-notice kind=${live.items.length === 0 && stream.status !== "open" ? "loading" : "empty"}
            >${live.items.length === 0 ? "Waiting for events…" : "No recent events match the filter."}</hiq-notice
          >`
          : html`<div class="head" aria-hidden="true"><span>Time</span><span>Entity</span><span>State</span></div>
            <lit-virtualizer
              scroller
              role="list"
              aria-label="Live events, newest first"
              tabindex="0"
              .items=${visible}

              .renderItem=${(e: LiveEvent) =>
                html`<div class="row" role="listitem">
                  <span class="time mono">${formatClock(e.ts)}</span>
                  <span class="who"
                    >${e.name ? html`<span class="name">${e.name}</span> ` : ""}<a
                      class="entity mono"
                      tabindex="-1"
                      href=${hrefFor("entity", e.entityId)}
                      >${e.entityId}</a
                    ></span
                  >
                  <span class="state">${formatState(e.state, e.unit)}</span>
                </div>`}
            ></lit-virtualizer>`
      }
    `;
  }

  static override styles = [
    shared,
    css`
      :host {
        display: flex;
        flex-direction: column;
        gap: 0.6rem;
      }
      .grow {
        flex: 1 1 10rem;
      }
      .summary {
        margin: 0;
        font-size: 0.85rem;
      }
      lit-virtualizer {
        height: min(65vh, 40rem);
        contain: strict;
        background: var(--hiq-surface, #fff);
        border: 1px solid var(--hiq-border, #d8dce2);
        border-radius: var(--hiq-radius, 8px);
      }
      .head,
      .row {
        display: grid;
        grid-template-columns: 5rem minmax(0, 1fr) minmax(0, 9rem);
        gap: 0.6rem;
        padding: 0.3rem 0.7rem;
        font-size: 0.85rem;
        width: 100%;
      }
      .head {
        color: var(--hiq-muted, #5b6470);
        font-size: 0.78rem;
      }
      .row {
        contain: content;
        border-bottom: 1px solid var(--hiq-surface-2, #eef0f3);
        height: 1.9rem;
        line-height: 1.3rem;
        align-items: center;
      }
      .row > * {
        overflow: hidden;
        text-overflow: ellipsis;
        white-space: nowrap;
      }
      .entity {
        text-decoration: none;
      }
      .name + .entity {
        color: var(--hiq-muted, #5b6470);
        font-size: 0.78rem;
      }
      .entity:hover {
        text-decoration: underline;
      }
      .time {
        color: var(--hiq-muted, #5b6470);
      }
      @media (max-width: 480px) {
        .head,
        .row {
          grid-template-columns: 4.4rem minmax(0, 1fr) minmax(0, 5rem);
          gap: 0.4rem;
          padding: 0.3rem 0.5rem;
        }
      }
    `,
  ];
}

declare global {
  interface HTMLElementTagNameMap {
    "hiq-live-events": HiqLiveEvents;
  }
}
