/**
 * A time-series chart drawn by uPlot (small, fast, well kept; canvas, so thousands of points are cheap).
 * Drag across the plot to zoom: the element fires `hiq-zoom` with the selected range in ms, and the
 * owner fetches that range again so the tier follows the zoom (daily -> hourly -> raw).
 * `data-points` reports how many points are drawn (for tests and tools).
 *
 * @example html`<hiq-history-chart .columns=${cols} unit="°C" @hiq-zoom=${onZoom}></hiq-history-chart>`
 */
import { css, html, LitElement, type PropertyValues, unsafeCSS } from "lit";
import { customElement, property, query } from "lit/decorators.js";
import uPlot from "uplot";
import uPlotCss from "uplot/dist/uPlot.min.css?inline";
import type { HistoryColumns } from "../history-view.ts";

export interface ZoomDetail {
  from: number;
  to: number;
}

const CHART_HEIGHT = 280;

function cssVar(el: Element, name: string, fallback: string): string {
  return getComputedStyle(el).getPropertyValue(name).trim() || fallback;
}

@customElement("hiq-history-chart")
export class HiqHistoryChart extends LitElement {
  @property({ attribute: false }) columns: HistoryColumns | null = null;
  /** The requested time range in ms: the x axis spans it even where there are no points. */
  @property({ attribute: false }) range: ZoomDetail | null = null;
  @property({ type: String }) unit = "";
  @property({ type: String }) label = "value";
  @query(".plot") private _plotEl!: HTMLDivElement;
  private _plot: uPlot | null = null;
  private _resize: ResizeObserver | null = null;
  private _dark = window.matchMedia("(prefers-color-scheme: dark)");
  private _onScheme = () => this._rebuild();

  override connectedCallback(): void {
    super.connectedCallback();
    this._dark.addEventListener("change", this._onScheme);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this._dark.removeEventListener("change", this._onScheme);
    this._resize?.disconnect();
    this._resize = null;
    this._plot?.destroy();
    this._plot = null;
  }

  override render() {
    return html`<div class="plot" role="img" aria-label=${this._summary()}></div>`;
  }

  protected override firstUpdated(): void {
    this._resize = new ResizeObserver(() => {
      if (this._plot) this._plot.setSize({ width: this._width(), height: CHART_HEIGHT });
    });
    this._resize.observe(this);
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (!changed.has("columns") && !changed.has("unit") && !changed.has("range")) return;
    const cols = this.columns;
    this.dataset.points = String(cols ? cols.xs.length : 0);
    // Same series layout: swap the data in place; otherwise build a new plot.
    if (this._plot && cols && this._plot.series.length === this._seriesCount(cols)) {
      this._plot.setData(this._data(cols));
    } else {
      this._rebuild();
    }
  }

  private _seriesCount(cols: HistoryColumns): number {
    return cols.mins ? 4 : 2;
  }

  private _data(cols: HistoryColumns): uPlot.AlignedData {
    return cols.mins && cols.maxs ? [cols.xs, cols.ys, cols.mins, cols.maxs] : [cols.xs, cols.ys];
  }

  private _width(): number {
    return Math.max(200, this.clientWidth);
  }

  private _summary(): string {
    const cols = this.columns;
    if (!cols || cols.xs.length === 0) return "History chart: no points";
    return `History chart of ${this.label}: ${cols.xs.length} points, ${cols.tier} tier`;
  }

  private _rebuild(): void {
    this._plot?.destroy();
    this._plot = null;
    const cols = this.columns;
    if (!cols || !this._plotEl) return;
    const accent = cssVar(this, "--hiq-accent", "#1f6feb");
    const muted = cssVar(this, "--hiq-muted", "#5b6470");
    const grid = cssVar(this, "--hiq-border", "#d8dce2");
    const axis: uPlot.Axis = {
      stroke: muted,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
    };
    const unit = this.unit;
    const series: uPlot.Series[] = [
      {},
      {
        label: this.label,
        stroke: accent,
        width: 1.5,
        spanGaps: false,
        points: { show: cols.xs.length < 200 },
        value: (_u, v) => (v == null ? "—" : `${v}${unit ? ` ${unit}` : ""}`),
      },
    ];
    if (cols.mins) {
      series.push({ label: "min", stroke: muted, width: 1, dash: [4, 4] });
      series.push({ label: "max", stroke: muted, width: 1, dash: [4, 4] });
    }
    this._plot = new uPlot(
      {
        width: this._width(),
        height: CHART_HEIGHT,
        series,
        axes: [
          axis,
          { ...axis, size: 72, values: (_u, ticks) => ticks.map((t) => `${t}${unit ? ` ${unit}` : ""}`) },
        ],
        scales: {
          x: {
            time: true,
            range: (_u, min, max) =>
              this.range ? [this.range.from / 1000, this.range.to / 1000] : [min, max],
          },
        },
        cursor: { drag: { x: true, y: false, setScale: false } },
        legend: { live: true },
        hooks: {
          setSelect: [
            (u) => {
              if (u.select.width < 2) return;
              const from = u.posToVal(u.select.left, "x") * 1000;
              const to = u.posToVal(u.select.left + u.select.width, "x") * 1000;
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              this.dispatchEvent(
                new CustomEvent<ZoomDetail>("hiq-zoom", {
                  detail: { from, to },
                  bubbles: true,
                  composed: true,
                }),
              );
            },
          ],
        },
      },
      this._data(cols),
      this._plotEl,
    );
  }

  static override styles = [
    unsafeCSS(uPlotCss),
    css`
      :host {
        display: block;
        min-width: 0;
        color: var(--hiq-text, #1b1f24);
      }
      .plot {
        min-height: ${CHART_HEIGHT}px;
      }
      .u-legend {
        font-size: 0.8rem;
        color: var(--hiq-text, #1b1f24);
      }
      .u-select {
        background: color-mix(in srgb, var(--hiq-accent, #1f6feb) 18%, transparent);
      }
    `,
  ];
}

declare global {
  interface HTMLElementTagNameMap {
    "hiq-history-chart": HiqHistoryChart;
  }
  interface HTMLElementEventMap {
    "hiq-zoom": CustomEvent<ZoomDetail>;
  }
}
