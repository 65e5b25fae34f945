/**
 * A state message used by every view: loading, empty, error or disconnected. Errors are announced to
 * screen readers (role=alert); the rest politely (role=status).
 *
 * @example html`<hiq-notice kind="error" .detail=${message}>Could not load entities</hiq-notice>`
 */
import { css, html, LitElement } from "lit";
import { customElement, property } from "lit/decorators.js";

export type NoticeKind = "loading" | "empty" | "error" | "offline";

@customElement("hiq-notice")
export class HiqNotice extends LitElement {
  @property({ type: String, reflect: true }) kind: NoticeKind = "loading";
  /** Extra explanation under the message (e.g. the server's error text). */
  @property({ type: String }) detail = "";

  override render() {
    const icon = { loading: "", empty: "∅", error: "!", offline: "⚡" }[this.kind];
    return html`<div role=${this.kind === "error" ? "alert" : "status"}>
      ${this.kind === "loading" ? html`<span class="spinner" aria-hidden="true"></span>` : html`<span class="icon" aria-hidden="true">${icon}</span>`}
      <div>
        <slot></slot>
        ${this.detail ? html`<div class="detail">${this.detail}</div>` : ""}
      </div>
    </div>`;
  }

  static override styles = css`
    :host {
      display: block;
      color: var(--hiq-muted, #5b6470);
      padding: 0.75rem 0;
    }
    div[role] {
      display: flex;
      gap: 0.6rem;
      align-items: flex-start;
    }
    :host([kind="error"]) {
      color: var(--hiq-bad, #cf222e);
    }
    :host([kind="offline"]) {
      color: var(--hiq-warn, #9a6700);
    }
    .detail {
      font-size: 0.85rem;
      margin-top: 0.2rem;
      word-break: break-word;
    }
    .icon {
      display: inline-grid;
      place-items: center;
      width: 1.3rem;
      height: 1.3rem;
      border-radius: 50%;
      border: 1.5px solid currentColor;
      font-size: 0.8rem;
      font-weight: 700;
      flex: none;
    }
    .spinner {
      width: 1.1rem;
      height: 1.1rem;
      border-radius: 50%;
      border: 2px solid var(--hiq-border, #d8dce2);
      border-top-color: var(--hiq-accent, #1f6feb);
      animation: spin 0.8s linear infinite;
      flex: none;
    }
    @keyframes spin {
      to {
        transform: rotate(360deg);
      }
    }
    @media (prefers-reduced-motion: reduce) {
      .spinner {
        animation: none;
      }
    }
  `;
}

declare global {
  interface HTMLElementTagNameMap {
    "hiq-notice": HiqNotice;
  }
}
