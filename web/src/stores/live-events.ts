/**
 * The live events list: bounded, newest first, updated in an animation frame at most every
 * LIVE_LIST_MIN_INTERVAL_MS however fast events arrive (the stream may deliver 1,000 events/s).
 * Paused: the visible list freezes while new events keep being counted in a bounded pending buffer.
 */
import { atom } from "nanostores";
import type { LiveEvent } from "../live-event.ts";

/** Most events the list holds (and the pending buffer holds while paused). */
export const LIVE_EVENTS_MAX = 5000;
/**
 * Least time between two list updates. Updates land in an animation frame, but at 1,000 events/s a list
 * redrawn every frame spends the main thread on layout and paint (and nobody reads 60 updates a second);
 * ~10 updates a second leaves the frames between free for scrolling and input.
 */
export const LIVE_LIST_MIN_INTERVAL_MS = 100;
/** Window of the live rate, in ms. */
const RATE_WINDOW_MS = 5000;

export interface LiveEventsState {
  items: LiveEvent[];
  /** Events received since the page loaded. */
  received: number;
  /** Events received over the last RATE_WINDOW_MS, per second. */
  rate: number;
  paused: boolean;
  /** Events waiting while paused (bounded by LIVE_EVENTS_MAX; older ones are skipped). */
  pending: number;
  /** Lower-cased filter text: part of an entity id, or a domain. */
  filter: string;
}

export const $liveEvents = atom<LiveEventsState>({
  items: [],
  received: 0,
  rate: 0,
  paused: false,
  pending: 0,
  filter: "",
});

let pending: LiveEvent[] = [];
let received = 0;
let frameRequested = false;
let lastFlush = 0;
const secondBuckets: { at: number; count: number }[] = [];

const nextFrame: (fn: () => void) => void =
  typeof requestAnimationFrame === "function"
    ? (fn) => requestAnimationFrame(fn)
    : (fn) => setTimeout(fn, 16);

function countForRate(n: number, now: number): number {
  const second = Math.floor(now / 1000) * 1000;
  const last = secondBuckets[secondBuckets.length - 1];
  if (last && last.at === second) last.count += n;
  else secondBuckets.push({ at: second, count: n });
  while (secondBuckets.length > 0 && secondBuckets[0].at <= now - RATE_WINDOW_MS) secondBuckets.shift();
  let total = 0;
  for (const b of secondBuckets) total += b.count;
  const span = Math.max(1000, Math.min(RATE_WINDOW_MS, now - (secondBuckets[0]?.at ?? now)));
  return (total * 1000) / span;
}

function flush(): void {
  frameRequested = false;
  lastFlush = Date.now();
  const state = $liveEvents.get();
  const rate = countForRate(0, Date.now());
  if (state.paused) {
    $liveEvents.set({ ...state, received, rate, pending: pending.length });
    return;
  }
  const fresh = pending;
  pending = [];
  fresh.reverse();
  const items =
    fresh.length >= LIVE_EVENTS_MAX
      ? fresh.slice(0, LIVE_EVENTS_MAX)
      : fresh.concat(state.items.slice(0, LIVE_EVENTS_MAX - fresh.length));
  $liveEvents.set({ ...state, items, received, rate, pending: 0 });
}

function schedule(): void {
  if (frameRequested) return;
  frameRequested = true;
  const wait = lastFlush + LIVE_LIST_MIN_INTERVAL_MS - Date.now();
  if (wait <= 0) nextFrame(flush);
  else setTimeout(() => nextFrame(flush), wait);
}

/** Takes events from the stream (oldest first); they appear on the next frame. */
export function receiveEvents(events: LiveEvent[]): void {
  if (events.length === 0) return;
  received += events.length;
  countForRate(events.length, Date.now());
  for (const e of events) pending.push(e);
  if (pending.length > LIVE_EVENTS_MAX * 2) pending = pending.slice(pending.length - LIVE_EVENTS_MAX);
  schedule();
}

export function pauseLiveEvents(): void {
  $liveEvents.set({ ...$liveEvents.get(), paused: true });
}

export function resumeLiveEvents(): void {
  $liveEvents.set({ ...$liveEvents.get(), paused: false });
  schedule();
}

export function setLiveFilter(text: string): void {
  $liveEvents.set({ ...$liveEvents.get(), filter: text.trim().toLowerCase() });
}

export function clearLiveEvents(): void {
  pending = [];
  $liveEvents.set({ ...$liveEvents.get(), items: [], pending: 0 });
}
