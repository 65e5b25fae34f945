/**
 * One figure on the overview: a label, a formatted value and an optional secondary line.
 * `value` is reflected (the raw number) so tests and tools can read it without parsing text.
 */
import { css, html, LitElement } from "lit";
import { customElement, property } from "lit/decorators.js";

@customElement("hiq-stat")
export class HiqStat extends LitElement {
  @property({ type: String }) label = "";
  /** The raw number, for machines; `display` is what people read. */
  @property({ type: Number, reflect: true }) value: number | null = null;
  @property({ type: String }) display = "—";
  @property({ type: String }) sub = "";
  @property({ type: String, reflect: true }) tone: "" | "ok" | "warn" | "bad" = "";

  override render() {
    return html`<div class="label">${this.label}</div>
      <div class="value" aria-live="off">${this.display}</div>
      ${this.sub ? html`<div class="sub">${this.sub}</div>` : ""}`;
  }

  static override styles = css`
    :host {
      display: block;
      background: var(--hiq-surface, #fff);
      border: 1px solid var(--hiq-border, #d8dce2);
      border-radius: var(--hiq-radius, 8px);
      padding: 0.75rem 0.9rem;
      min-width: 0;
    }
    .label {
      font-size: 0.8rem;
      color: var(--hiq-muted, #5b6470);
    }
    .value {
      font-size: clamp(1.15rem, 5.5vw, 1.5rem);
      font-weight: 600;
      font-variant-numeric: tabular-nums;
      margin-top: 0.15rem;
      overflow: hidden;
      text-overflow: ellipsis;
      white-space: nowrap;
    }
    .sub {
      font-size: 0.8rem;
      color: var(--hiq-muted, #5b6470);
      margin-top: 0.1rem;
    }
    :host([tone="ok"]) .value {
      color: var(--hiq-ok, #1a7f37);
    }
    :host([tone="warn"]) .value {
      color: var(--hiq-warn, #9a6700);
    }
    :host([tone="bad"]) .value {
      color: var(--hiq-bad, #cf222e);
    }
  `;
}

declare global {
  interface HTMLElementTagNameMap {
    "hiq-stat": HiqStat;
  }
}
