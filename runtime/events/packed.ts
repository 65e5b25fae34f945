/**
 * State changes as they travel between actors: one string and one Float64Array per batch instead of an
 * array of objects. A structured clone of a thousand small objects costs the sender ~1.5 µs per event
 * (every property of every object is walked and written); one string and one typed array are copied whole.
 * The receiver splits the string once and reads fields by index, so the hot path never builds
 * `StateChange` objects; consumers that want objects (rules, the live feed) ask for the few they need.
 *
 * Layout: `text` holds six fields per event (entity_id, state, attributes, context_id, context_parent_id,
 * context_user_id) joined by U+0001; `times` holds last_updated and last_changed (µs) per event.
 * Field encoding is exact for every string: null is "", and a string that is empty, contains U+0001 or
 * starts with U+0002 is written as U+0002 + its JSON text (JSON escapes every control character).
 *
 * @example
 * const packed = packEvents(changes);            // sender
 * const cols = new EventColumns(packed);         // receiver
 * for (let i = 0; i < cols.n; i++) cols.entityId(i);
 */
import type { StateChange } from "./state-change.ts";

export interface PackedEvents {
  /** Number of events. */
  n: number;
  /** `FIELDS` fields per event joined by `SEP`; "" when n is 0. */
  text: string;
  /** [last_updated, last_changed] per event, µs since the epoch. */
  times: Float64Array;
}

const SEP = "\u0001";
const ESC = 2;
export const FIELDS = 6;

function encode(s: string | null): string {
  if (s === null) return "";
  if (s === "" || s.charCodeAt(0) === ESC || s.indexOf(SEP) !== -1) return `\u0002${JSON.stringify(s)}`;
  return s;
}

function decode(f: string): string | null {
  if (f === "") return null;
  return f.charCodeAt(0) === ESC ? (JSON.parse(f.slice(1)) as string) : f;
}

/** Builds a packed batch event by event, without an intermediate object per event. */
export class PackedBuilder {
  private parts: string[] = [];
  private times: number[] = [];

  get length(): number {
    return this.times.length >> 1;
  }

  add(
    entityId: string,
    state: string,
    attributes: string,
    lastUpdated: number,
    lastChanged: number,
    contextId: string | null,
    contextParentId: string | null,
    contextUserId: string | null,
  ): void {
    this.parts.push(
      encode(entityId),
      encode(state),
      encode(attributes),
      encode(contextId),
      encode(contextParentId),
      encode(contextUserId),
    );
    this.times.push(lastUpdated, lastChanged);
  }

  addChange(c: StateChange): void {
    this.add(
      c.entity_id,
      c.state,
      c.attributes,
      c.last_updated,
      c.last_changed,
      c.context_id,
      c.context_parent_id,
      c.context_user_id,
    );
  }

  /** The batch so far; the builder starts empty again. */
  finish(): PackedEvents {
    const packed = { n: this.length, text: this.parts.join(SEP), times: Float64Array.from(this.times) };
    this.parts = [];
    this.times = [];
    return packed;
  }
}

export function packEvents(changes: readonly StateChange[]): PackedEvents {
  const b = new PackedBuilder();
  for (const c of changes) b.addChange(c);
  return b.finish();
}

/** Read access to a batch of state changes by index, packed or not (rules read only what they need). */
export interface EventView {
  readonly n: number;
  entityId(i: number): string;
  state(i: number): string;
  lastUpdated(i: number): number;
  change(i: number): StateChange;
}

/** Records seen through the same interface as a packed batch. */
export function viewOf(records: readonly StateChange[]): EventView {
  return {
    n: records.length,
    entityId: (i) => records[i].entity_id,
    state: (i) => records[i].state,
    lastUpdated: (i) => records[i].last_updated,
    change: (i) => records[i],
  };
}

/** A packed batch opened for reading by index. Fields are decoded on access; nothing is copied up front. */
export class EventColumns implements EventView {
  readonly n: number;
  private readonly f: string[];
  private readonly t: Float64Array;

  constructor(readonly packed: PackedEvents) {
    this.n = packed.n;
    this.f = packed.n === 0 ? [] : packed.text.split(SEP);
    this.t = packed.times;
    if (this.f.length !== packed.n * FIELDS || this.t.length !== packed.n * 2)
      throw new Error(
        `packed batch is inconsistent: ${packed.n} events need ${packed.n * FIELDS} fields and ${packed.n * 2} times, got ${this.f.length} and ${this.t.length}`,
      );
  }

  entityId(i: number): string {
    return decode(this.f[i * FIELDS]) ?? "";
  }
  state(i: number): string {
    return decode(this.f[i * FIELDS + 1]) ?? "";
  }
  attributes(i: number): string {
    return decode(this.f[i * FIELDS + 2]) ?? "";
  }
  contextId(i: number): string | null {
    return decode(this.f[i * FIELDS + 3]);
  }
  contextParentId(i: number): string | null {
    return decode(this.f[i * FIELDS + 4]);
  }
  contextUserId(i: number): string | null {
    return decode(this.f[i * FIELDS + 5]);
  }
  lastUpdated(i: number): number {
    return this.t[i * 2];
  }
  lastChanged(i: number): number {
    return this.t[i * 2 + 1];
  }

  change(i: number): StateChange {
    return {
      entity_id: this.entityId(i),
      state: this.state(i),
      attributes: this.attributes(i),
      last_changed: this.lastChanged(i),
      last_updated: this.lastUpdated(i),
      context_id: this.contextId(i),
      context_parent_id: this.contextParentId(i),
      context_user_id: this.contextUserId(i),
    };
  }

  changes(): StateChange[] {
    const out = new Array<StateChange>(this.n);
    for (let i = 0; i < this.n; i++) out[i] = this.change(i);
    return out;
  }

  /** The events at `indices` (ascending) as a new batch; the same batch when that is all of them. */
  select(indices: readonly number[]): PackedEvents {
    if (indices.length === this.n) return this.packed;
    const parts: string[] = new Array(indices.length * FIELDS);
    const times = new Float64Array(indices.length * 2);
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      for (let j = 0; j < FIELDS; j++) parts[k * FIELDS + j] = this.f[i * FIELDS + j];
      times[k * 2] = this.t[i * 2];
      times[k * 2 + 1] = this.t[i * 2 + 1];
    }
    return { n: indices.length, text: parts.join(SEP), times };
  }
}

/**
 * A copy of `s` that owns its characters. A field read from a batch is a substring of the batch's text,
 * and JavaScriptCore keeps the whole text alive for as long as any substring of it lives: one state text
 * kept in a cache can pin a 1 MB batch. Whatever outlives the batch (cache keys, last-seen values) goes
 * through this. (`padEnd` builds a new string; `slice` of that small one is cheap to keep.)
 */
export const ownString = (s: string): string => s.padEnd(s.length + 1, " ").slice(0, -1);

export function unpackEvents(packed: PackedEvents): StateChange[] {
  return new EventColumns(packed).changes();
}

/** One batch of several, in order; the batch itself when there is one. */
export function concatPacked(batches: readonly PackedEvents[]): PackedEvents {
  if (batches.length === 1) return batches[0];
  let n = 0;
  for (const b of batches) n += b.n;
  const times = new Float64Array(n * 2);
  const texts: string[] = [];
  let at = 0;
  for (const b of batches) {
    if (b.n === 0) continue;
    times.set(b.times, at);
    at += b.times.length;
    texts.push(b.text);
  }
  return { n, text: texts.join(SEP), times };
}

/**
 * Opens a batch that came over an edge: a precise error instead of a throw when it is not a well-formed
 * packed batch (the boundary check covers the envelope, this covers the contents).
 */
export function openPacked(packed: unknown): { ok: true; cols: EventColumns } | { ok: false; error: string } {
  const p = packed as PackedEvents;
  if (
    p === null ||
    typeof p !== "object" ||
    !Number.isSafeInteger(p.n) ||
    p.n < 0 ||
    typeof p.text !== "string" ||
    !(p.times instanceof Float64Array)
  )
    return {
      ok: false,
      error: "events: expected a packed batch {n, text, times: Float64Array} (packEvents)",
    };
  try {
    return { ok: true, cols: new EventColumns(p) };
  } catch (e) {
    return { ok: false, error: `events: ${(e as Error).message}` };
  }
}
