/**
 * Devices & entities: search as you type (debounced), filter by area and domain (with counts), open an
 * entity for its detail and history.
 */
import { StoreController } from "@nanostores/lit";
import { css, html, LitElement } from "lit";
import { customElement } from "lit/decorators.js";
import { formatCount } from "../format.ts";
import {
  $entities,
  filterByArea,
  filterByDomain,
  loadMoreEntities,
  reloadEntities,
  searchEntities,
} from "../stores/entities.ts";
import { hrefFor } from "../stores/route.ts";
import { shared } from "../styles.ts";
import "./hiq-notice.ts";

@customElement("hiq-entities")
export class HiqEntities extends LitElement {
  private _entities = new StoreController(this, $entities);

  override render() {
    const s = this._entities.value;
    return html`
      <form class="toolbar" role="search" @submit=${(e: Event) => e.preventDefault()}>
        <label class="field grow" for="q"
          >Search entities
          <input
            id="q"
            type="search"
            placeholder="name or entity id"
            autocomplete="off"
            .value=${s.query.q}
            @input=${(e: Event) => searchEntities((e.target as HTMLInputElement).value)}
          />
        </label>
        <label class="field" for="domain"
          >Domain
          <select id="domain" @change=${(e: Event) => filterByDomain((e.target as HTMLSelectElement).value)}>
            <option value="" ?selected=${s.query.domain === ""}>All domains</option>
            ${s.facets.domains.map(
              (f) =>
                html`<option value=${f.value} ?selected=${s.query.domain === f.value}>${f.label} (${f.count})</option>`,
            )}
          </select>
        </label>
        <label class="field" for="area"
          >Area
          <select id="area" @change=${(e: Event) => filterByArea((e.target as HTMLSelectElement).value)}>
            <option value="" ?selected=${s.query.area === ""}>All areas</option>
            ${s.facets.areas.map(
              (f) =>
                html`<option value=${f.value} ?selected=${s.query.area === f.value}>${f.label} (${f.count})</option>`,
            )}
          </select>
        </label>
      </form>
      <p class="count muted" aria-live="polite" data-count=${s.items.length}>
        ${
          s.status === "loading" && s.items.length === 0
            ? "Searching…"
            : `${formatCount(s.total ?? s.items.length)} ${(s.total ?? s.items.length) === 1 ? "entity" : "entities"}`
        }
      </p>
      ${this._body()}
    `;
  }

  private _body() {
    const s = this._entities.value;
    if (s.status === "error")
      return html`<hiq-notice kind="error" .detail=${s.error ?? ""}>Could not load entities.</hiq-notice>
        <button type="button" @click=${reloadEntities}>Try again</button>`;
    if (s.status === "loading" && s.items.length === 0)
      return html`<hiq-notice kind="loading">Loading entities…</hiq-notice>`;
    if (s.items.length === 0)
      return html`<hiq-notice kind="empty">No entities match. Try a shorter search or clear the filters.</hiq-notice>`;
    return html`<div class="table-wrap">
        <table class=${s.status === "loading" ? "stale" : ""}>
          <thead>
            <tr>
              <th scope="col">Entity</th>
              <th scope="col">Domain</th>
              <th scope="col" class="wide">Area</th>
              <th scope="col" class="wide">Device</th>
            </tr>
          </thead>
          <tbody>
            ${s.items.map(
              (e) => html`<tr>
                <td>
                  <a href=${hrefFor("entity", e.entityId)}>${e.name}</a>
                  <div class="mono muted id">${e.entityId}</div>
                </td>
                <td>${e.domain}</td>
                <td class="wide">${e.area ?? "—"}</td>
                <td class="wide">${e.device ?? "—"}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${s.nextCursor ? html`<button type="button" @click=${loadMoreEntities}>Load more</button>` : ""}`;
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
        flex: 1 1 14rem;
      }
      .count {
        margin: 0;
        font-size: 0.85rem;
      }
      .table-wrap {
        overflow-x: auto;
        background: var(--hiq-surface, #fff);
        border: 1px solid var(--hiq-border, #d8dce2);
        border-radius: var(--hiq-radius, 8px);
      }
      table {
        border-collapse: collapse;
        width: 100%;
        font-size: 0.88rem;
      }
      table.stale {
        opacity: 0.6;
      }
      th,
      td {
        text-align: left;
        padding: 0.45rem 0.7rem;
        border-bottom: 1px solid var(--hiq-surface-2, #eef0f3);
        vertical-align: top;
      }
      thead th {
        font-size: 0.8rem;
        color: var(--hiq-muted, #5b6470);
        font-weight: 600;
      }
      .id {
        font-size: 0.75rem;
        word-break: break-all;
      }
      @media (max-width: 600px) {
        .wide {
          display: none;
        }
      }
    `,
  ];
}

declare global {
  interface HTMLElementTagNameMap {
    "hiq-entities": HiqEntities;
  }
}
