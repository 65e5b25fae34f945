/**
 * Webhooks: the rules that POST signed webhooks into Home Assistant (or anywhere), with create, enable /
 * disable, delete, test-fire (the target's answer is shown), and each rule's delivery log.
 */
import { StoreController } from "@nanostores/lit";
import { css, html, LitElement } from "lit";
import { customElement } from "lit/decorators.js";
import { formatDateTime } from "../format.ts";
import {
  $webhooks,
  deleteWebhook,
  dismissSecret,
  selectWebhook,
  setWebhookEnabled,
  testWebhook,
  type WebhookRule,
} from "../stores/webhooks.ts";
import { shared } from "../styles.ts";
import "./hiq-notice.ts";
import "./hiq-webhook-form.ts";

function describeTrigger(when: WebhookRule["when"]): string {
  const parts: string[] = [when.kind];
  for (const [k, v] of Object.entries(when)) if (k !== "kind" && v !== undefined) parts.push(`${k}=${v}`);
  return parts.join(" · ");
}

@customElement("hiq-webhooks")
export class HiqWebhooks extends LitElement {
  private _webhooks = new StoreController(this, $webhooks);

  override render() {
    const s = this._webhooks.value;
    return html`
      ${
        s.created
          ? html`<div class="card secret" role="alert">
            <strong>Webhook created.</strong> Its signing secret is shown only now; store it where the receiver
            verifies signatures:
            <code class="mono">${s.created.secret}</code>
            <button type="button" @click=${dismissSecret}>Done</button>
          </div>`
          : ""
      }
      ${s.actionError ? html`<hiq-notice kind="error" .detail=${s.actionError}>The change was refused.</hiq-notice>` : ""}
      <hiq-webhook-form></hiq-webhook-form>
      <section class="card" aria-labelledby="rules-title">
        <h2 id="rules-title">Rules (${s.rules.length})</h2>
        ${
          s.status === "loading"
            ? html`<hiq-notice kind="loading">Loading webhooks…</hiq-notice>`
            : s.status === "error"
              ? html`<hiq-notice kind="error" .detail=${s.error ?? ""}>Could not load webhooks.</hiq-notice>`
              : s.rules.length === 0
                ? html`<hiq-notice kind="empty">No webhooks yet. Create one above.</hiq-notice>`
                : html`<ul class="rules">
                  ${s.rules.map((r) => this._rule(r))}
                </ul>`
        }
      </section>
      ${s.selected ? this._deliveries() : ""}
    `;
  }

  private _rule(r: WebhookRule) {
    const s = this._webhooks.value;
    const test = s.lastTest?.ruleId === r.id ? s.lastTest : null;
    return html`<li class="rule" data-rule=${r.id}>
      <div class="info">
        <div><strong>${r.name}</strong> ${r.enabled ? "" : html`<span class="muted">(disabled)</span>`}</div>
        <div class="mono muted small url">${r.url}</div>
        <div class="small">${describeTrigger(r.when)}</div>
        ${
          test
            ? html`<div class="small ${test.result?.ok ? "ok" : "bad"}" role="status">
              Test: ${
                test.error ??
                (test.result?.ok
                  ? `delivered, HTTP ${test.result.status} in ${test.result.latencyMs} ms`
                  : `failed${test.result?.status ? ` (HTTP ${test.result.status})` : ""}: ${test.result?.error ?? "no answer"}`)
              }
            </div>`
            : ""
        }
      </div>
      <div class="buttons">
        <button type="button" ?disabled=${s.busy} @click=${() => testWebhook(r.id)}>Test</button>
        <button type="button" @click=${() => selectWebhook(s.selected === r.id ? null : r.id)}
          aria-expanded=${s.selected === r.id ? "true" : "false"}>
          Deliveries
        </button>
        <button type="button" ?disabled=${s.busy} @click=${() => setWebhookEnabled(r.id, !r.enabled)}>
          ${r.enabled ? "Disable" : "Enable"}
        </button>
        <button
          type="button"
          ?disabled=${s.busy}
          @click=${() => confirm(`Delete webhook "${r.name}"?`) && deleteWebhook(r.id)}
        >
          Delete
        </button>
      </div>
    </li>`;
  }

  private _deliveries() {
    const s = this._webhooks.value;
    const rule = s.rules.find((r) => r.id === s.selected);
    return html`<section class="card" aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">Deliveries of ${rule?.name ?? s.selected}</h2>
      ${
        s.deliveriesStatus === "loading"
          ? html`<hiq-notice kind="loading">Loading deliveries…</hiq-notice>`
          : s.deliveries.length === 0
            ? html`<hiq-notice kind="empty">No deliveries yet.</hiq-notice>`
            : html`<div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Created</th>
                    <th scope="col">Event</th>
                    <th scope="col">Status</th>
                    <th scope="col">Attempts</th>
                    <th scope="col">Last answer</th>
                  </tr>
                </thead>
                <tbody>
                  ${s.deliveries.map(
                    (d) => html`<tr>
                      <td>${formatDateTime(d.createdAt)}</td>
                      <td>${d.event}</td>
                      <td class=${d.status === "delivered" ? "ok" : d.status === "pending" ? "" : "bad"}>${d.status}</td>
                      <td>${d.attempts}</td>
                      <td>${d.lastStatus ?? ""} ${d.lastError ?? ""}</td>
                    </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }
    </section>`;
  }

  static override styles = [
    shared,
    css`
      :host {
        display: flex;
        flex-direction: column;
        gap: 0.8rem;
      }
      .secret code {
        display: block;
        margin: 0.5rem 0;
        word-break: break-all;
      }
      .rules {
        list-style: none;
        padding: 0;
        margin: 0.5rem 0 0;
      }
      .rule {
        display: flex;
        flex-wrap: wrap;
        justify-content: space-between;
        gap: 0.5rem;
        padding: 0.6rem 0;
        border-bottom: 1px solid var(--hiq-surface-2, #eef0f3);
      }
      .info {
        min-width: 0;
        flex: 1 1 16rem;
      }
      .url {
        word-break: break-all;
      }
      .small {
        font-size: 0.82rem;
      }
      .buttons {
        display: flex;
        flex-wrap: wrap;
        gap: 0.3rem;
        align-items: flex-start;
      }
      .buttons button {
        font-size: 0.82rem;
        padding: 0.3rem 0.55rem;
      }
      .ok {
        color: var(--hiq-ok, #1a7f37);
      }
      .bad {
        color: var(--hiq-bad, #cf222e);
      }
      .table-wrap {
        overflow-x: auto;
      }
      table {
        border-collapse: collapse;
        width: 100%;
        font-size: 0.85rem;
        margin-top: 0.5rem;
      }
      th,
      td {
        text-align: left;
        padding: 0.35rem 0.5rem;
        border-bottom: 1px solid var(--hiq-surface-2, #eef0f3);
      }
      thead th {
        color: var(--hiq-muted, #5b6470);
        font-weight: 600;
      }
    `,
  ];
}

declare global {
  interface HTMLElementTagNameMap {
    "hiq-webhooks": HiqWebhooks;
  }
}
