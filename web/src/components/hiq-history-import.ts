/**
 * A progress bar for the import of Home Assistant's recorded history (`GET /api/v1/import/history`),
 * shown on the overview while an import runs or waits to resume; nothing when none does. Polls every
 * HISTORY_IMPORT_POLL_MS while on screen.
 */
import { StoreController } from "@nanostores/lit";
import { css, html, LitElement } from "lit";
import { customElement, state } from "lit/decorators.js";
import type { HistoryImportStatus } from "../../../actors/history-import/messages.ts";
import { api } from "../api.ts";
import { formatCount } from "../format.ts";
import { $token } from "../stores/token.ts";
import { shared } from "../styles.ts";

export const HISTORY_IMPORT_POLL_MS = 2000;

@customElement("hiq-history-import")
export class HiqHistoryImport extends LitElement {
  private _token = new StoreController(this, $token);
  @state() private _status: HistoryImportStatus | null = null;
  private _timer: ReturnType<typeof setTimeout> | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this._poll();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearTimeout(this._timer);
    this._timer = undefined;
  }

  private async _poll(): Promise<void> {
    const token = this._token.value.token;
    try {
      if (token) this._status = (await api.historyImport(token)) as HistoryImportStatus;
    } catch {
      // No import actor (or HomeIQ away): show nothing; the overview says when HomeIQ is not answering.
      this._status = null;
    }
    if (this.isConnected) this._timer = setTimeout(() => void this._poll(), HISTORY_IMPORT_POLL_MS);
  }

  override render() {
    const s = this._status;
    if (!s || (s.state !== "running" && s.state !== "waiting") || s.stepsTotal === 0) return html``;
    const share = Math.min(1, s.stepsDone / s.stepsTotal);
    return html`<section class="card" aria-labelledby="history-import-title">
      <h2 id="history-import-title">Importing Home Assistant's history</h2>
      <progress max=${s.stepsTotal} value=${s.stepsDone} aria-label="history import progress"></progress>
      <div class="sub">
        ${Math.floor(share * 100)}% · ${formatCount(s.events)} events · ${formatCount(s.hours)} statistics hours
        ${s.state === "waiting" ? html`<span class="warn"> · waiting to resume: ${s.lastError ?? ""}</span>` : ""}
      </div>
    </section>`;
  }

  static override styles = [
    shared,
    css`
      progress {
        width: 100%;
        height: 0.8rem;
        accent-color: var(--hiq-accent, #0969da);
      }
      .sub {
        font-size: 0.85rem;
        color: var(--hiq-muted, #5b6470);
      }
      .warn {
        color: var(--hiq-warn, #9a6700);
      }
    `,
  ];
}

declare global {
  interface HTMLElementTagNameMap {
    "hiq-history-import": HiqHistoryImport;
  }
}
