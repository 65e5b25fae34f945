/**
 * The mined history, read through the store's history scan (../store/history-scan.ts): time order, chunks
 * of `chunkEvents` rows, so a month of events never sits in memory and the batcher's writes never wait.
 *
 * Only entities the miner can use are read: actionable domains, binary sensors, persons, and sensors of
 * a kind some threshold rule could use in this home (temperature, illuminance, humidity; humidity only
 * with a fan, and so on) — chatty power meters and the like stay on disk.
 */
import { looseNumber } from "../../runtime/store/codec.ts";
import { type HistoryScan, openHistoryScan, type ScanRow } from "../../runtime/store/history-scan.ts";
import { domainOf, sensorKindFromAttributes, sensorKindFromId } from "./miner/entities.ts";
import { sensorKindsUsedBy } from "./miner/threshold.ts";
import type { MinerEvent, SensorKind } from "./miner/types.ts";

const MINED_DOMAINS = new Set([
  "light",
  "switch",
  "fan",
  "input_boolean",
  "cover",
  "lock",
  "climate",
  "binary_sensor",
  "person",
]);

export interface HistorySource {
  /** Friendly names and sensor kinds of the mined entities (from their latest attributes). */
  nameOf(entityId: string): string | undefined;
  sensorKindOf(entityId: string): SensorKind | undefined;
  /** Events with from <= ts < to, ascending, `chunkEvents` at a time. */
  chunks(from: number, to: number, chunkEvents: number): AsyncGenerator<MinerEvent[]>;
  /** Rows read so far. */
  readonly rowsRead: number;
  close(): void;
}

/** Opens the store's history scan; returns null when the store does not exist yet (nothing to mine). */
export function openHistorySource(dataDir: string): HistorySource | null {
  const scan = openHistoryScan(dataDir);
  return scan ? new StoreHistorySource(scan) : null;
}

class StoreHistorySource implements HistorySource {
  private readonly names = new Map<number, string>();
  /** Sensor keys: their state text is never used by the miner, so it is not built (most rows are sensors). */
  private readonly sensors = new Set<number>();
  private readonly friendly = new Map<string, string>();
  private readonly kinds = new Map<string, SensorKind>();
  private readonly keys: number[] = [];
  rowsRead = 0;

  constructor(private readonly scan: HistoryScan) {
    const all = scan.entities();
    const usedKinds = sensorKindsUsedBy(all.map((r) => r.entityId));
    for (const { e, entityId } of all) {
      const domain = domainOf(entityId);
      if (!MINED_DOMAINS.has(domain) && domain !== "sensor") continue;
      const json = scan.latestAttributes(e);
      let attrs: Record<string, unknown> = {};
      try {
        attrs = json ? (JSON.parse(json) as Record<string, unknown>) : {};
      } catch {
        // A broken attribute text only costs the friendly name.
      }
      if (domain === "sensor") {
        const kind = sensorKindFromAttributes(attrs) ?? sensorKindFromId(entityId);
        if (!kind || !usedKinds.has(kind)) continue;
        this.kinds.set(entityId, kind);
        this.sensors.add(e);
      }
      this.names.set(e, entityId);
      this.keys.push(e);
      if (typeof attrs.friendly_name === "string" && attrs.friendly_name)
        this.friendly.set(entityId, attrs.friendly_name);
    }
  }

  nameOf(entityId: string): string | undefined {
    return this.friendly.get(entityId);
  }

  sensorKindOf(entityId: string): SensorKind | undefined {
    return this.kinds.get(entityId);
  }

  async *chunks(from: number, to: number, chunkEvents: number): AsyncGenerator<MinerEvent[]> {
    for await (const rows of this.scan.chunks(this.keys, from, to, chunkEvents)) {
      this.rowsRead += rows.length;
      yield this.toEvents(rows);
    }
  }

  private toEvents(rows: ScanRow[]): MinerEvent[] {
    const out: MinerEvent[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [ts, re, v, s, auto] = rows[i];
      const entityId = this.names.get(re)!;
      const state = s !== null ? this.scan.stateText(s) : v === null || this.sensors.has(re) ? "" : String(v);
      out[i] = {
        entityId,
        state,
        value: v ?? (s === null ? null : looseNumber(state)),
        ts,
        automated: auto === 1,
      };
    }
    return out;
  }

  close(): void {
    this.scan.close();
  }
}
