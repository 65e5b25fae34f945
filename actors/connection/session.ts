/**
 * One long-lived Home Assistant WebSocket session, reconnected forever (except on auth_invalid):
 * auth with timeouts, `supported_features {coalesce_messages}`, strictly increasing ids, subscriptions,
 * connect snapshot, registries, gap backfill, and an app-level ping/pong watchdog. The reader only parses
 * and hands batches to `sink`; it never waits on downstream. Clock and randomness are injected.
 *
 * State changes come from `subscribe_entities` (compressed diffs, ./entities.ts; its first event is the
 * connect snapshot). An HA that does not know that command gets `subscribe_events state_changed` and
 * `get_states` instead; both paths give the same records.
 *
 * No silent stall: whenever this connection may have lost a change it cannot get back by itself — a frame
 * over `ha.maxFrameBytes` that carried live events, a diff HA could not send (`subscribe_entities` error),
 * a diff that cannot be applied, a snapshot that never came, a request unanswered for
 * `ha.requestTimeoutMs` — it resyncs: reconnects, which opens a gap that the backfill fills.
 *
 * The connection's state is one value of `SessionState` (./session-state.ts): idle, authenticating, live,
 * paused or stopped, each with only its own data. `transition` is where a socket's state ends; a callback
 * or an async setup step that holds a state which is no longer `this.state` is stale and does nothing.
 */

import type { HomeIQConfig } from "../../runtime/config/schema.ts";
import type { StateChange } from "../../runtime/events/messages.ts";
import { backoffDelay, type Clock, type Random } from "../../runtime/kernel/clock.ts";
import { type KnownAttributes, previewJson } from "./attributes.ts";
import { Backfiller } from "./backfill.ts";
import { type ApplyReport, EntityStates } from "./entities.ts";
import { type HAMessage, parseFrame, type RejectReason, scanMessages, stateToChange } from "./frames.ts";
import { Continuity } from "./logic.ts";
import { RequestError } from "./request-error.ts";
import {
  type Authenticating,
  authenticating,
  type Connected,
  hasSocket,
  type Live,
  live,
  type SessionState,
} from "./session-state.ts";
import type { HAState, RegistryKind, SessionSink } from "./sink.ts";

/** A value HA sent, as text for a message: strings as they are, anything else previewed (never throws). */
const haText = (v: unknown): string => (typeof v === "string" ? v : previewJson(v));

export type { ChangeSource, HAState, HAStatus, RegistryKind, SessionSink } from "./sink.ts";

const REGISTRY_EVENTS: Record<string, RegistryKind> = {
  area_registry_updated: "areas",
  device_registry_updated: "devices",
  entity_registry_updated: "entities",
};
const LIST_COMMANDS: Record<RegistryKind, string> = {
  areas: "config/area_registry/list",
  devices: "config/device_registry/list",
  entities: "config/entity_registry/list",
};

export interface SessionOptions {
  url: string;
  token: string;
  ha: HomeIQConfig["ha"];
  sink: SessionSink;
  clock: Clock;
  random: Random;
  /** The newest stored event (µs) for the backfill after a process restart. */
  newestStoredUs: () => number | null;
  WebSocketImpl?: typeof WebSocket;
}

export class HASession {
  /** The one place the connection's state lives; changed only by `transition`. */
  private state: SessionState = { kind: "idle" };
  private attempt = 0;
  private timers = new Set<unknown>();
  private haVersion: string | undefined;
  private readonly continuity: Continuity;
  /** Entity states behind `subscribe_entities` diffs. */
  private readonly entities: EntityStates;
  private readonly applyReport: ApplyReport;
  private readonly opts: SessionOptions;
  /** Each entity's attributes (JSON) as last forwarded live or in a snapshot, and as they were when the
   * open gap began: the two sides a backfilled row's stripped attributes are completed from. */
  private liveAttrs = new Map<string, string>();
  private gapAttrs: Map<string, string> | null = null;
  /** The newest stored change when this process started (µs), for the restart backfill. */
  private storedAtStartUs: number | null = null;
  /** The live rate of the last connection (per s). */
  private liveRate: number | null = null;
  /** Gap backfills; keeps the history window the answers settled on across connections. */
  private readonly backfiller = new Backfiller();

  constructor(opts: SessionOptions) {
    this.opts = opts;
    const sink = opts.sink;
    this.continuity = new Continuity({
      skipped: (reason) => sink.skipped(reason, 1),
      outOfOrder: (c, newest) => sink.outOfOrder(c.entity_id, c.last_updated, newest),
    });
    this.entities = new EntityStates(opts.ha.maxAttributeDepth);
    this.applyReport = {
      reject: (r) => sink.rejected(r),
      skipped: (reason) => sink.skipped(reason, 1),
    };
  }

  start(): void {
    if (this.state.kind === "stopped") this.transition({ kind: "idle" }, "started");
    // Read once, before anything of this process reaches the store: later reads would see the snapshot.
    this.storedAtStartUs = this.opts.newestStoredUs();
    this.connect();
  }

  /** Stops for good (shutdown). */
  stop(): void {
    this.transition({ kind: "stopped" }, "stopped");
  }

  /** Stops reading (the spool is full): closes the socket; `resume()` reconnects and backfills the gap. */
  pause(reason: string): void {
    if (this.state.kind === "paused" || this.state.kind === "stopped") return;
    this.transition({ kind: "paused" }, reason);
  }

  resume(): void {
    if (this.state.kind !== "paused") return;
    this.transition({ kind: "idle" }, "resumed");
    this.connect();
  }

  get isPaused(): boolean {
    return this.state.kind === "paused";
  }

  /**
   * The one place the state changes. Into a socket state (idle -> authenticating, authenticating -> live
   * on the same socket) it only moves. Out of one (to idle, paused or stopped) it ends the socket's
   * state: closes the socket, fails its pending commands, cancels every timer and, when the connection
   * was live, marks where the gap begins and what rate it ran at; reports `disconnected`.
   */
  private transition(next: SessionState, reason: string, closeCode: number | null = null): void {
    const prev = this.state;
    this.state = next;
    if (hasSocket(next)) return;
    for (const t of this.timers) this.opts.clock.clearTimeout(t);
    this.timers.clear();
    this.entities.clear();
    if (!hasSocket(prev)) return;
    prev.ws.onmessage = null;
    prev.ws.onclose = null;
    try {
      prev.ws.close();
    } catch {}
    for (const p of prev.pending.values()) p.reject(new RequestError("disconnected", reason, closeCode));
    prev.pending.clear();
    if (prev.kind === "live") {
      // A gap begins (unless one is still open): remember each entity's attributes on its near side.
      if (this.gapAttrs === null) this.gapAttrs = new Map(this.liveAttrs);
      const seconds = (this.opts.clock.now() - prev.connectedAtMs) / 1000;
      if (seconds >= 1 && prev.liveEvents > 0) this.liveRate = prev.liveEvents / seconds;
    }
    this.status("disconnected", reason);
  }

  private status(state: HAState, lastError?: string): void {
    this.opts.sink.status({
      state,
      url: this.opts.url,
      since: this.opts.clock.now(),
      haVersion: this.haVersion,
      lastError,
    });
  }

  private timer(fn: () => void, ms: number): unknown {
    const handle = this.opts.clock.setTimeout(() => {
      this.timers.delete(handle);
      fn();
    }, ms);
    this.timers.add(handle);
    return handle;
  }

  private clearTimer(handle: unknown): void {
    if (handle === null) return;
    this.opts.clock.clearTimeout(handle);
    this.timers.delete(handle);
  }

  /** idle -> authenticating. */
  private connect(): void {
    if (this.state.kind !== "idle") return;
    this.status("connecting");
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    let ws: WebSocket;
    try {
      ws = new Impl(this.opts.url);
    } catch (e) {
      this.reconnectLater(`cannot open ${this.opts.url}: ${(e as Error).message}`);
      return;
    }
    const connectTimer = this.timer(
      () =>
        this.fail(
          state,
          `no WebSocket connection within ha.connectTimeoutMs (${this.opts.ha.connectTimeoutMs} ms)`,
        ),
      this.opts.ha.connectTimeoutMs,
    );
    const authTimer = this.timer(
      () => this.fail(state, `no auth_ok within ha.authTimeoutMs (${this.opts.ha.authTimeoutMs} ms)`),
      this.opts.ha.connectTimeoutMs + this.opts.ha.authTimeoutMs,
    );
    const state = authenticating(ws, authTimer);
    this.transition(state, "connecting");
    const mine = () => this.current(ws);
    ws.onopen = () => {
      if (mine()) this.clearTimer(connectTimer);
    };
    ws.onmessage = (event) => {
      const s = mine();
      if (!s) return;
      if (typeof event.data !== "string") {
        this.opts.sink.rejected({ reason: "binary", detail: "HA sends text frames; got a binary frame" });
        return;
      }
      this.onFrame(s, event.data);
    };
    ws.onerror = () => {};
    ws.onclose = (event) => {
      const s = mine();
      if (s)
        this.fail(
          s,
          `connection closed (code ${event.code}${event.reason ? `, ${event.reason}` : ""})`,
          event.code,
        );
    };
  }

  /**
   * The socket of `s` is gone or must go: back to idle, and a reconnect with backoff and jitter.
   * `closeCode` is the peer's close code when it closed the socket (the backfill reads 1009 as "too large").
   */
  private fail(s: Connected, reason: string, closeCode: number | null = null): void {
    if (this.state !== s) return;
    this.transition({ kind: "idle" }, reason, closeCode);
    this.reconnectLater(reason);
  }

  private reconnectLater(reason: string): void {
    const delay = backoffDelay(
      this.attempt++,
      this.opts.ha.reconnectMinMs,
      this.opts.ha.reconnectMaxMs,
      this.opts.random,
    );
    this.opts.sink.log("warn", "Home Assistant connection lost; reconnecting", { reason, delayMs: delay });
    this.timer(() => this.connect(), delay);
  }

  /** The state of socket `ws` while it is the session's (authenticating, then live), else null. */
  private current(ws: WebSocket): Connected | null {
    const s = this.state;
    return hasSocket(s) && s.ws === ws ? s : null;
  }

  private send(s: Connected, msg: Record<string, unknown>): void {
    if (this.state === s) s.ws.send(JSON.stringify(msg));
  }

  /**
   * Sends a command with the next id and resolves with its result (rejects with HA's error code). An
   * answer later than `ha.requestTimeoutMs` resyncs the connection (its caller sees `disconnected`).
   */
  private request(s: Connected, type: string, fields: Record<string, unknown> = {}): Promise<unknown> {
    if (this.state !== s) return Promise.reject(new RequestError("disconnected", "the connection is gone"));
    const id = s.nextId++;
    return new Promise((resolve, reject) => {
      const timeout = this.timer(
        () =>
          this.fail(
            s,
            `no answer to ${type} (id ${id}) within ha.requestTimeoutMs (${this.opts.ha.requestTimeoutMs} ms); reconnecting`,
          ),
        this.opts.ha.requestTimeoutMs,
      );
      s.pending.set(id, {
        resolve: (v) => {
          this.clearTimer(timeout);
          resolve(v);
        },
        reject: (e) => {
          this.clearTimer(timeout);
          reject(e);
        },
      });
      this.send(s, { id, type, ...fields });
    });
  }

  /** This connection may have lost changes it cannot get back: reconnect, so the gap is backfilled. */
  private resync(s: Connected, why: string): void {
    this.opts.sink.log("warn", `resyncing with Home Assistant: ${why}`);
    this.fail(s, `resync: ${why}`);
  }

  private onFrame(s: Connected, text: string): void {
    // Whatever HA sends, the reader must not throw: that would crash the actor (and loop on reconnect).
    try {
      this.readFrame(s, text);
    } catch (e) {
      this.reject("unexpected", `frame could not be handled (${(e as Error).message}); resyncing`);
      const now = this.current(s.ws);
      if (now?.kind === "live") this.resync(now, "a frame could not be handled");
    }
  }

  /**
   * A frame over ha.maxFrameBytes: its messages are scanned, not parsed. Every request it answers fails
   * with `too_large` (its caller asks for less, or goes on without), the entity snapshot makes this
   * connection read state_changed instead, lost registry events re-read their lists, and lost live events
   * (or anything the scan cannot account for) resync the connection.
   */
  private onTooLarge(s: Connected, text: string, detail: string): void {
    const { messages, truncated } = scanMessages(text);
    const l = s.kind === "live" ? s : null;
    const entitySub = l?.entitySub ?? null;
    let lost: string | null = truncated ? "a frame with too many messages to scan" : null;
    for (const m of messages) {
      if (m.type === "result" && m.id !== null) {
        const p = s.pending.get(m.id);
        if (p) {
          s.pending.delete(m.id);
          p.reject(new RequestError("too_large", detail));
        } else if (m.id === entitySub) lost = "a subscribe_entities error in an oversized frame";
      } else if (l && m.type === "event" && m.id !== null && m.id === entitySub) {
        if (!l.entitiesLoaded) {
          // The entities snapshot itself (every entity's state) did not fit: without it no diff can be
          // read, so this connection reads full state_changed events instead (see initialise); the
          // changes meanwhile come from the backfill.
          l.entitiesTooLarge = true;
          l.entitySub = null;
        } else lost = "live state changes in a frame over ha.maxFrameBytes";
      } else if (l && m.type === "event" && m.id !== null && l.subs.has(m.id)) {
        const kind = REGISTRY_EVENTS[l.subs.get(m.id) as string];
        if (kind) void this.refreshRegistry(l, kind);
        else lost = "live state changes in a frame over ha.maxFrameBytes";
      } else if (m.type === "pong") {
        if (l) this.onPong(l);
      } else if (m.type !== "event" && m.type !== "result")
        lost = `an unreadable message (type ${JSON.stringify(m.type)}) in a frame over ha.maxFrameBytes`;
    }
    if (lost && l && this.state === l) this.resync(l, lost);
  }

  private readFrame(s0: Connected, text: string): void {
    const parsed = parseFrame(text, this.opts.ha.maxFrameBytes);
    if (!parsed.ok) {
      this.opts.sink.rejected(parsed.rejected);
      if (parsed.rejected.reason === "too_large") this.onTooLarge(s0, text, parsed.rejected.detail);
      return;
    }
    let live: StateChange[] | null = null;
    const ws = s0.ws;
    for (const msg of parsed.messages) {
      // Read per message: auth_ok moves this socket on to live; a resync tore it down, and the rest of
      // its frame belongs to no subscription any more.
      const s = this.current(ws);
      if (!s) break;
      if (s.kind === "authenticating") this.onAuthMessage(s, msg);
      else if (msg.type === "event") {
        const got =
          msg.id === s.entitySub && s.entitySub !== null ? this.onEntities(s, msg) : this.onEvent(s, msg);
        if (got) {
          if (live) for (const c of got) live.push(c);
          else live = got;
        }
      } else if (msg.type === "result") this.onResult(s, msg);
      else if (msg.type === "pong") this.onPong(s);
      else this.reject("unknown_type", `unknown message type ${JSON.stringify(msg.type)}`);
    }
    // One batch per frame: a coalesced frame of 1,000 events becomes one message downstream.
    if (live && live.length > 0) {
      const fresh = this.continuity.live(live);
      const s = this.current(ws);
      if (s?.kind === "live") s.liveEvents += fresh.length;
      for (const c of fresh) this.liveAttrs.set(c.entity_id, c.attributes);
      if (fresh.length > 0) this.opts.sink.changes("live", fresh);
    }
  }

  private reject(reason: RejectReason, detail: string): void {
    this.opts.sink.rejected({ reason, detail });
  }

  /** authenticating -> live (auth_ok) or stopped (auth_invalid). */
  private onAuthMessage(s: Authenticating, msg: HAMessage): void {
    switch (msg.type) {
      case "auth_required":
        this.send(s, { type: "auth", access_token: this.opts.token });
        return;
      case "auth_ok": {
        this.clearTimer(s.authTimer);
        this.haVersion = typeof msg.ha_version === "string" ? msg.ha_version : undefined;
        const l = live(s, this.opts.clock.now());
        this.transition(l, "auth_ok");
        this.attempt = 0;
        this.status("connected");
        this.continuity.connected();
        this.armPing(l);
        this.initialise(l).catch((e) => {
          if (this.state === l) this.fail(l, `session setup failed: ${(e as Error).message}`);
        });
        return;
      }
      case "auth_invalid": {
        // A bad token never gets better by retrying: stop, and say how to fix it.
        const detail = `Home Assistant rejected the access token (${haText(msg.message ?? "auth_invalid")}); create a long-lived access token in HA (Profile -> Security) and set HOMEIQ_HA_TOKEN, then restart HomeIQ`;
        this.transition({ kind: "stopped" }, detail);
        this.status("auth_invalid", detail);
        this.opts.sink.log("error", detail);
        return;
      }
      default:
        this.reject("unexpected", `message ${JSON.stringify(msg.type)} before authentication completed`);
    }
  }

  private onEvent(l: Live, msg: HAMessage): StateChange[] | null {
    const type = typeof msg.id === "number" ? l.subs.get(msg.id) : undefined;
    if (type === undefined) {
      this.reject("unknown_id", `event for id ${previewJson(msg.id)}, which is no subscription of ours`);
      return null;
    }
    const event = msg.event as { event_type?: unknown; data?: Record<string, unknown> } | undefined;
    if (!event || typeof event.event_type !== "string" || !event.data || typeof event.data !== "object") {
      this.reject("missing_fields", `event ${msg.id} lacks event.event_type or event.data`);
      return null;
    }
    if (event.event_type === "state_changed") {
      const ns = event.data.new_state;
      if (ns === null) {
        // The entity was removed: nothing to store (as history's `"s": null` rows).
        this.opts.sink.skipped("removed", 1);
        return null;
      }
      const c = stateToChange(
        ns,
        `state_changed event (subscription ${msg.id})`,
        this.opts.ha.maxAttributeDepth,
      );
      if (c.ok) return [c.change];
      if (c.skipped) this.opts.sink.skipped(c.skipped, 1);
      else this.opts.sink.rejected(c.rejected);
      return null;
    }
    const kind = REGISTRY_EVENTS[event.event_type];
    if (kind) this.onRegistryEvent(l, kind, event.data);
    return null;
  }

  /** A `subscribe_entities` event: the first is the connect snapshot, the rest are live changes. */
  private onEntities(l: Live, msg: HAMessage): StateChange[] | null {
    const changes: StateChange[] = [];
    const failed = this.entities.apply(msg.event, changes, this.applyReport);
    if (failed > 0) {
      // A diff that cannot be applied leaves its entity's state stale for every later diff: take the
      // changes before it, then resync (a fresh `a` and a backfill of what came after).
      const loaded = l.entitiesLoaded;
      this.resync(l, `${failed} subscribe_entities diff(s) could not be applied`);
      return loaded ? changes : null;
    }
    if (l.entitiesLoaded) return changes;
    l.entitiesLoaded = true;
    this.snapshot(changes);
    return null;
  }

  private onRegistryEvent(l: Live, kind: RegistryKind, data: Record<string, unknown>): void {
    const changes = data.changes as Record<string, unknown> | undefined;
    if (
      kind === "entities" &&
      data.action === "update" &&
      typeof data.entity_id === "string" &&
      typeof changes?.entity_id === "string" &&
      changes.entity_id !== data.entity_id
    ) {
      const from = changes.entity_id;
      this.continuity.rename(from, data.entity_id);
      for (const map of [this.liveAttrs, this.gapAttrs]) {
        const attrs = map?.get(from);
        if (map && attrs !== undefined) {
          map.delete(from);
          map.set(data.entity_id, attrs);
        }
      }
      this.entities.rename(from, data.entity_id);
      this.opts.sink.rename(from, data.entity_id);
    }
    // Registry events carry only ids; re-read the list (HA's frontend does the same).
    void this.refreshRegistry(l, kind);
  }

  /**
   * Re-reads one registry list. An event during a read may postdate the list being answered, so it
   * asks for one more read after (HA fires bursts of registry events at startup and on reloads).
   */
  private async refreshRegistry(l: Live, kind: RegistryKind): Promise<void> {
    if (l.refreshing.has(kind)) {
      l.refreshAgain.add(kind);
      return;
    }
    l.refreshing.add(kind);
    try {
      do {
        l.refreshAgain.delete(kind);
        const items = await this.request(l, LIST_COMMANDS[kind]);
        if (this.state !== l) return;
        if (Array.isArray(items)) this.opts.sink.registry(kind, items);
      } while (l.refreshAgain.has(kind));
    } catch (e) {
      if (this.state === l)
        this.opts.sink.log("warn", "registry refresh failed", { kind, error: (e as Error).message });
    } finally {
      l.refreshing.delete(kind);
    }
  }

  private onResult(l: Live, msg: HAMessage): void {
    const id = msg.id;
    const p = typeof id === "number" ? l.pending.get(id) : undefined;
    if (
      !p &&
      typeof id === "number" &&
      msg.success === false &&
      ((id === l.entitySub && l.entitySub !== null) || l.subs.has(id))
    ) {
      // HA could not serialise an event or diff (INVALID_JSON_PARTIAL_MESSAGE) and sent this instead: a
      // change is lost (and with diffs an entity's state is stale from here on). A registry event only
      // means its list must be read again.
      const kind = REGISTRY_EVENTS[l.subs.get(id) ?? ""];
      if (kind) {
        void this.refreshRegistry(l, kind);
        return;
      }
      const err = (msg.error ?? {}) as { code?: unknown; message?: unknown };
      this.resync(
        l,
        `Home Assistant could not send a state change on subscription ${id} (${haText(err.code)}: ${haText(err.message)})`,
      );
      return;
    }
    if (!p || typeof id !== "number") {
      this.reject(
        "unknown_id",
        `result for id ${previewJson(id)}, which we did not ask for (or already answered)`,
      );
      return;
    }
    l.pending.delete(id);
    if (msg.success === true) p.resolve(msg.result);
    else {
      const err = (msg.error ?? {}) as { code?: unknown; message?: unknown };
      p.reject(
        new RequestError(haText(err.code ?? "unknown_error"), haText(err.message ?? "request failed")),
      );
    }
  }

  private armPing(l: Live): void {
    this.timer(() => {
      if (this.state !== l) return;
      const id = l.nextId++;
      this.send(l, { id, type: "ping" });
      l.pongTimer = this.timer(
        () => this.fail(l, `no pong within ha.pongTimeoutMs (${this.opts.ha.pongTimeoutMs} ms)`),
        this.opts.ha.pongTimeoutMs,
      );
    }, this.opts.ha.pingIntervalMs);
  }

  private onPong(l: Live): void {
    this.clearTimer(l.pongTimer);
    l.pongTimer = null;
    this.armPing(l);
  }

  /** After auth_ok: features, subscriptions first (so nothing is missed), then snapshot, registries, backfill. */
  private async initialise(l: Live): Promise<void> {
    await this.request(l, "supported_features", { features: { coalesce_messages: 1 } });
    // Register the subscription before its result arrives: events may follow the result in the same frame.
    const sub = (eventType: string) => {
      l.subs.set(l.nextId, eventType);
      return this.request(l, "subscribe_events", { event_type: eventType });
    };
    await Promise.all([
      sub("entity_registry_updated"),
      sub("device_registry_updated"),
      sub("area_registry_updated"),
    ]);
    // Its first event (the snapshot) follows the result and comes before any later answer.
    const entitySub = l.nextId;
    l.entitySub = entitySub;
    const compressed = await this.request(l, "subscribe_entities").then(
      () => true,
      (e: unknown) => {
        if (!(e instanceof RequestError)) throw e;
        if (e.code === "too_large")
          l.entitiesTooLarge = true; // the answer came with the snapshot
        else if (e.code !== "unknown_command") throw e;
        return false;
      },
    );
    if (this.state !== l) return;
    if (!compressed && !l.entitiesTooLarge) {
      l.entitySub = null;
      this.opts.sink.log(
        "info",
        "Home Assistant has no subscribe_entities; reading full state_changed events",
      );
      await sub("state_changed");
    }
    // HA answers in order: once get_config's answer is here, so is the snapshot event sent before it.
    const config = await this.request(l, "get_config");
    if (this.state !== l) return;
    if (l.entitySub !== null && !l.entitiesLoaded && !l.entitiesTooLarge) {
      this.resync(l, "the subscribe_entities snapshot did not come before later answers");
      return;
    }
    if (l.entitiesTooLarge) {
      l.entitySub = null;
      this.opts.sink.log(
        "error",
        `Home Assistant's entity snapshot is larger than ha.maxFrameBytes (${this.opts.ha.maxFrameBytes} bytes); reading full state_changed events instead (changes meanwhile come from the gap backfill). Fix: raise HOMEIQ_HA_MAX_FRAME_BYTES`,
      );
      // HA did subscribe us: stop its diffs (nothing reads them now).
      this.request(l, "unsubscribe_events", { subscription: entitySub }).catch(() => {});
      await sub("state_changed");
    }
    if (config && typeof config === "object") this.opts.sink.haConfig(config as Record<string, unknown>);
    if (l.entitySub === null) {
      // Too large an answer costs this connection its snapshot, not the session: the backfill still runs.
      const states = await this.request(l, "get_states").catch((e: unknown) => {
        if (!(e instanceof RequestError) || e.code !== "too_large") throw e;
        this.opts.sink.log(
          "error",
          `Home Assistant's get_states answer is larger than ha.maxFrameBytes (${this.opts.ha.maxFrameBytes} bytes); going on without the connect snapshot. Fix: raise HOMEIQ_HA_MAX_FRAME_BYTES`,
        );
        return null;
      });
      if (this.state !== l) return;
      if (states !== null) this.onSnapshot(states);
    }
    for (const kind of ["areas", "devices", "entities"] as const) {
      if (this.state !== l) return;
      await this.refreshRegistry(l, kind);
    }
    if (this.state !== l) return;
    await this.backfill(l, 0);
  }

  /**
   * Fills the open gap. HA refusing (e.g. `unknown_command` while its history integration is still
   * loading after a restart) keeps the session and retries on it with backoff
   * (`ha.backfillRetryMinMs`..`ha.backfillRetryMaxMs`); a reconnect starts over anyway.
   */
  private async backfill(l: Live, attempt: number): Promise<void> {
    try {
      await this.backfiller.run({
        request: (type, fields) => this.request(l, type, fields),
        current: () => this.state === l,
        sleep: (ms) => new Promise<void>((resolve) => this.timer(resolve, ms)),
        continuity: this.continuity,
        sink: this.opts.sink,
        ha: this.opts.ha,
        nowMs: () => this.opts.clock.now(),
        storedAtStartUs: this.storedAtStartUs,
        entityIds: [...new Set([...this.snapshotIds, ...this.continuity.entityIds()])],
        liveRate: this.liveRate,
        knownAttributes: (id) => this.knownAttributes(id),
      });
      if (this.state === l) this.gapAttrs = null;
    } catch (e) {
      if (this.state !== l || !(e instanceof RequestError) || e.code === "disconnected") throw e;
      const delay = backoffDelay(
        attempt,
        this.opts.ha.backfillRetryMinMs,
        this.opts.ha.backfillRetryMaxMs,
        this.opts.random,
      );
      this.opts.sink.backfillFailed(
        `history/history_during_period failed: ${e.code}: ${e.message} (retrying in ${delay} ms)`,
      );
      this.timer(() => {
        if (this.state !== l) return;
        this.backfill(l, attempt + 1).catch((err) => {
          if (this.state === l) this.fail(l, `gap backfill failed: ${(err as Error).message}`);
        });
      }, delay);
    }
  }

  /** The entity's attributes on both sides of the open gap, or undefined when a side is unknown. */
  private knownAttributes(id: string): KnownAttributes | undefined {
    const before = this.gapAttrs?.get(id);
    const after = this.liveAttrs.get(id);
    if (before === undefined || after === undefined) return undefined;
    // Our own JSON text, written from depth-checked attributes: it parses back.
    return { before: JSON.parse(before), after: JSON.parse(after) };
  }

  private onSnapshot(states: unknown): void {
    if (!Array.isArray(states)) {
      this.reject("missing_fields", "get_states result is not an array");
      return;
    }
    const changes: StateChange[] = [];
    for (const s of states) {
      const c = stateToChange(s, "get_states result", this.opts.ha.maxAttributeDepth);
      if (c.ok) changes.push(c.change);
      else if (c.skipped) this.opts.sink.skipped(c.skipped, 1);
      else this.opts.sink.rejected(c.rejected);
    }
    this.snapshot(changes);
  }

  /** Every entity's current state at connect: forwarded where it falls in the gap; names the backfill. */
  private snapshot(changes: StateChange[]): void {
    this.snapshotIds = changes.map((c) => c.entity_id);
    for (const c of changes) this.liveAttrs.set(c.entity_id, c.attributes);
    const fresh = this.continuity.catchUp(changes, "snapshot");
    if (fresh.length > 0) this.opts.sink.changes("snapshot", fresh);
  }

  private snapshotIds: string[] = [];
}
