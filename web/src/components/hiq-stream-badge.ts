/** The live stream's connection state in the header: live, connecting, reconnecting (with why), offline. */
import { StoreController } from "@nanostores/lit";
import { css, html, LitElement } from "lit";
import { customElement } from "lit/decorators.js";
import { $stream } from "../stores/stream.ts";

const LABELS = {
  idle: "Not connected",
  connecting: "Connecting…",
  open: "Live",
  reconnecting: "Reconnecting…",
  unauthorized: "Token rejected",
} as const;

@customElement("hiq-stream-badge")
export class HiqStreamBadge extends LitElement {
  private _stream = new StoreController(this, $stream);

  override render() {
    const { status, lastError, attempt } = this._stream.value;
    const title =
      status === "reconnecting" && lastError ? `Attempt ${attempt}: ${lastError}` : LABELS[status];
    return html`<span class="badge ${status}" role="status" title=${title}>
      <span class="dot" aria-hidden="true"></span>${LABELS[status]}
    </span>`;
  }

  static override styles = css`
    .badge {
      display: inline-flex;
      align-items: center;
      gap: 0.4rem;
      font-size: 0.8rem;
      padding: 0.2rem 0.6rem;
      border-radius: 999px;
      border: 1px solid var(--hiq-border, #d8dce2);
      white-space: nowrap;
    }
    .dot {
      width: 0.55rem;
      height: 0.55rem;
      border-radius: 50%;
      background: var(--hiq-muted, #5b6470);
    }
    .open .dot {
      background: var(--hiq-ok, #1a7f37);
    }
    .connecting .dot,
    .reconnecting .dot {
      background: var(--hiq-warn, #9a6700);
    }
    .unauthorized .dot {
      background: var(--hiq-bad, #cf222e);
    }
  `;
}

declare global {
  interface HTMLElementTagNameMap {
    "hiq-stream-badge": HiqStreamBadge;
  }
}
