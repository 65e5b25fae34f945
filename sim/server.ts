/**
 * A Home Assistant look-alike speaking HA's WebSocket API (`/api/websocket`): auth, coalesced frames,
 * get_states, get_config, registries, subscribe_events, subscribe_entities (compressed states and diffs,
 * as HA's `_state_diff_event` writes them), history/history_during_period and ping/pong, over a
 * deterministic simulated home that changes state at a configurable rate (1/s to 100,000/s). It is both the
 * test double of the connection actor and the embedded demo. Faults can be injected to test recovery.
 *
 * HTTP control for out-of-process use: `GET /sim/stats`, `GET /sim/digest`, `POST /sim/rate?value=N`,
 * `POST /sim/fault?kind=drop|stall|malformed|huge|reject-token|accept-token|reuse-ids|rename|fail-history|history-max-bytes|remove|big-attributes|clock-step|unserialisable|registry-burst&arg=...`.
 *
 * @example
 * const sim = await startSimulator({ entities: 300, rate: 100, token: "t" });
 * // connect a client to sim.url with sim.token ... then:
 * sim.fault("drop"); sim.emittedKeys(); sim.stop();
 */
import type { Server, ServerWebSocket } from "bun";
import { usFromIso } from "../actors/connection/time.ts";
import { jsonFloat } from "../runtime/events/cpython-time.ts";
import { HaClock } from "./ha-clock.ts";
import { EmittedHistory } from "./history.ts";
import {
  advance,
  attributesVary,
  buildHome,
  changedAttributes,
  contextId,
  type Home,
  isoFromUs,
  renderCompressed,
  renderState,
  type SimEntity,
  seededRandom,
  varyingValues,
} from "./home.ts";
import type { FaultKind, SimStats, Simulator, SimulatorOptions } from "./options.ts";
import { PastHistory } from "./past.ts";
import { recordedAttributesJson } from "./recorder.ts";
import { config, registry, SIM_HA_VERSION } from "./registries.ts";
import {
  ClientWriter,
  MAX_PENDING_MSG,
  PENDING_MSG_MAX_FORCE_READY,
  PENDING_MSG_PEAK,
  PENDING_MSG_PEAK_TIME_MS,
  type SlowClientReason,
  WRITER_LIMIT_BYTES,
} from "./writer.ts";

export type { FaultKind, SimDigest, SimStats, Simulator, SimulatorOptions } from "./options.ts";
export { SIM_HA_VERSION };

const TICK_MS = 10;
/** At most this many changes per tick: a rate beyond what the loop can make is "as fast as it can". */
const TICK_EVENTS_MAX = 20_000;
/**
 * A tick's changes are made in slices of this many, and every client's writer runs between slices: HA's
 * event loop gives its writer a turn between callbacks, and forces it once this many are queued
 * (`PENDING_MSG_MAX_FORCE_READY`). `emit(n)` from a test is one burst, like n changes in one callback.
 */
const TICK_SLICE = PENDING_MSG_MAX_FORCE_READY;

interface Client {
  authed: boolean;
  lastId: number;
  /** Subscription id -> event type ("*" for all). */
  subs: Map<number, string>;
  /** The `subscribe_entities` subscription id, if any. */
  entitySub: number | null;
  stalledUntil: number;
  /** Ids of commands this client issued (for the reuse-ids fault). */
  firstId: number;
  /** HA's per-client send queue and writer; set when the socket opens. */
  writer: ClientWriter | null;
}

type Socket = ServerWebSocket<Client>;

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const token = opts.token ?? "sim-token";
  const random = seededRandom(opts.seed ?? 42);
  const clock = new HaClock(opts.rawTimestamps !== false);
  /** Stamps an update (and, when the state changed, a change) on the entity; returns its µs. */
  const stamp = (e: SimEntity, changed: boolean): number => {
    const t = clock.next();
    e.lastUpdatedTs = t;
    e.lastUpdatedUs = clock.lastUs;
    if (changed) {
      e.lastChangedTs = t;
      e.lastChangedUs = clock.lastUs;
      e.lastChangedIso = isoFromUs(clock.lastUs);
    }
    return clock.lastUs;
  };
  const homeStartUs = Math.floor(clock.seconds() * 1e6);
  const home: Home = buildHome(opts.entities ?? 300, random, homeStartUs);
  const history = new EmittedHistory(opts.historyMax ?? 2_000_000);
  const commitIntervalMs = opts.recorderCommitIntervalMs ?? 5000;
  if (!(commitIntervalMs >= 0))
    throw new Error(`sim recorderCommitIntervalMs must be >= 0, got ${commitIntervalMs}`);
  /** The recorder's clock starts with the simulator: commits happen at origin + k * interval. */
  const recorderOrigin = performance.now();
  /** Rows the recorder has committed by now (the oldest ones): what a history query can see. */
  const committedRows = (): number => {
    if (commitIntervalMs === 0) return history.size;
    const elapsed = performance.now() - recorderOrigin;
    return history.writtenBefore(recorderOrigin + Math.floor(elapsed / commitIntervalMs) * commitIntervalMs);
  };
  let seq = 0;
  let rate = opts.rate ?? 20;
  let rejectToken = false;
  /** While set, history requests fail as on an HA without the history integration. */
  let historyFails = false;
  /** A history answer larger than this closes the socket instead (a proxy or HA giving up on it). */
  let historyMaxBytes = Number.POSITIVE_INFINITY;
  const clients = new Set<Socket>();
  const stats = {
    sent: 0,
    connections: 0,
    authFailures: 0,
    framesSent: 0,
    bytesSent: 0,
    pendingBytesMax: 0,
    pendingMessagesMax: 0,
    slowClientsDropped: 0,
    slowClientsDroppedPeak: 0,
    idReuse: 0,
  };
  const digest = new Map<string, { count: number; sum: number }>();

  const recorderFilters = opts.recorderExcludesAttributes !== false;
  /** The attributes HA's recorder stores for the entity's current attributes (cached until they change). */
  const recordedOf = (e: SimEntity): string => {
    if (!recorderFilters) return e.attrsJson;
    if (e.recordedFrom !== e.attrsJson) {
      e.recordedJson = recordedAttributesJson(e.entity_id.slice(0, e.entity_id.indexOf(".")), e.attributes);
      e.recordedFrom = e.attrsJson;
    }
    return e.recordedJson;
  };
  const record = (e: SimEntity) => {
    history.push(
      e.entity_id,
      e.state,
      recordedOf(e),
      e.lastUpdatedTs,
      e.lastUpdatedUs,
      e.lastChangedUs,
      performance.now(),
    );
    stats.sent++;
    let d = digest.get(e.entity_id);
    if (!d) {
      d = { count: 0, sum: 0 };
      digest.set(e.entity_id, d);
    }
    d.count++;
    d.sum += e.lastUpdatedUs % 1e9;
  };
  // The recorded past ends a second before the first live state; rows are generated per request.
  const past = new PastHistory(
    home.entities.map((e) => ({
      entityId: e.entity_id,
      kind: e.kind,
      attrsJson: recorderFilters
        ? recordedAttributesJson(e.entity_id.slice(0, e.entity_id.indexOf(".")), e.attributes)
        : JSON.stringify(e.attributes),
    })),
    {
      seed: opts.seed ?? 42,
      days: opts.historyDays ?? 0,
      statisticsDays: opts.statisticsDays ?? 0,
      endUs: homeStartUs - 1_000_000,
    },
  );
  // Initial states: each entity's first state is part of what was emitted (it is in get_states and history).
  for (const e of home.entities) {
    advance(e, random);
    stamp(e, true);
    e.attrsJson = JSON.stringify(e.attributes);
    e.ctxId = contextId(++seq, e.lastUpdatedUs);
    record(e);
  }
  /** The state object as JSON, rendered when first needed after a change (not every client wants it). */
  const stateJsonOf = (e: SimEntity): string => {
    if (e.stateJson === "") e.stateJson = renderState(e);
    return e.stateJson;
  };

  /** Bytes not yet taken by the client: in the socket and in the client's queue. */
  const pendingOf = (ws: Socket) => ws.getBufferedAmount() + (ws.data.writer?.pendingBytes ?? 0);
  const notePending = (ws: Socket) => {
    const pending = pendingOf(ws);
    if (pending > stats.pendingBytesMax) stats.pendingBytesMax = pending;
    const messages = ws.data.writer?.pendingMax ?? 0;
    if (messages > stats.pendingMessagesMax) stats.pendingMessagesMax = messages;
  };
  const limits = {
    maxPending: opts.slowClientMaxPending ?? MAX_PENDING_MSG,
    peakPending: opts.slowClientPeakPending ?? PENDING_MSG_PEAK,
    peakMs: opts.slowClientPeakMs ?? PENDING_MSG_PEAK_TIME_MS,
    socketLimitBytes: opts.socketLimitBytes ?? WRITER_LIMIT_BYTES,
    coalesce: opts.coalesceMessages !== false,
  };
  const writerFor = (ws: Socket) =>
    new ClientWriter(ws, limits, {
      sent: (frame) => {
        stats.framesSent++;
        stats.bytesSent += frame.length;
      },
      slow: (reason: SlowClientReason) => {
        notePending(ws);
        stats.slowClientsDropped++;
        if (reason === "peak_pending") stats.slowClientsDroppedPeak++;
      },
    });
  /** Lets every client's writer hand its socket what is queued (HA's writer task getting a turn). */
  const flushAll = () => {
    for (const ws of clients) {
      const w = ws.data.writer;
      if (!w || w.pendingMessages === 0) continue;
      notePending(ws);
      w.write();
    }
  };

  /**
   * As HA: before auth a message goes straight to the socket; after it, into the client's queue, which
   * the writer empties while the socket has room (see writer.ts). One large message (a big history
   * answer) is one message, as in HA.
   */
  const send = (ws: Socket, text: string) => {
    const c = ws.data;
    if (c.stalledUntil > Date.now()) return;
    if (c.authed && c.writer) {
      c.writer.enqueue(text);
      return;
    }
    stats.framesSent++;
    stats.bytesSent += text.length;
    ws.send(text);
  };
  const result = (ws: Socket, id: number, value: string) =>
    send(ws, `{"id":${id},"type":"result","success":true,"result":${value}}`);
  const error = (ws: Socket, id: number | null, code: string, message: string) =>
    send(ws, JSON.stringify({ id, type: "result", success: false, error: { code, message } }));

  /**
   * A fault's frame, straight to the socket as its own frame (after what the writer can hand over first),
   * so a corrupt frame is not joined with HA's well-formed messages.
   */
  const sendFrame = (ws: Socket, text: string) => {
    ws.data.writer?.write();
    stats.framesSent++;
    stats.bytesSent += text.length;
    ws.send(text);
  };

  /**
   * Queues event messages of one subscription for a client, in HA's shape for subscription events
   * (`messages.py` `cached_event_message`, `cached_state_diff_message`): the id comes last.
   */
  const sendEvents = (ws: Socket, sub: number, events: string[]) => {
    const suffix = `,"id":${sub}}`;
    for (const ev of events) send(ws, `{"type":"event","event":${ev}${suffix}`);
  };

  /** Sends events to every client subscribed to their type. */
  const broadcast = (eventType: string, events: string[]) => {
    if (events.length === 0) return;
    for (const ws of clients) {
      if (!ws.data.authed) continue;
      for (const [sub, type] of ws.data.subs)
        if (type === eventType || type === "*") sendEvents(ws, sub, events);
    }
  };

  /** Sends `subscribe_entities` events (`{a|c|r: ...}`) to every client subscribed to entities. */
  const broadcastEntities = (events: string[]) => {
    if (events.length === 0) return;
    for (const ws of clients) {
      const sub = ws.data.entitySub;
      if (ws.data.authed && sub !== null) sendEvents(ws, sub, events);
    }
  };

  const eventEnvelope = (type: string, data: string, firedIso: string, ctx: string) =>
    `{"event_type":"${type}","data":${data},"origin":"LOCAL","time_fired":"${firedIso}","context":{"id":"${ctx}","parent_id":null,"user_id":null}}`;

  /** Which renderings of a change some client reads: full state_changed events, entity diffs. */
  const audience = () => {
    let events = false;
    let diffs = false;
    for (const ws of clients) {
      if (!ws.data.authed) continue;
      if (ws.data.entitySub !== null) diffs = true;
      for (const type of ws.data.subs.values()) if (type === "state_changed" || type === "*") events = true;
    }
    return { events, diffs };
  };

  const emit = (n: number) => {
    const want = audience();
    const outEvents: string[] = [];
    const outDiffs: string[] = [];
    const entities = home.entities;
    for (let k = 0; k < n; k++) {
      const e = entities[Math.floor(random() * entities.length)];
      // An entity whose attributes HA cannot serialise stays out of the random walk until healed.
      if (e.unserialisable && entities.length > 1) {
        k--;
        continue;
      }
      const old = want.events ? stateJsonOf(e) : "";
      const vary = attributesVary(e);
      const before = want.diffs && vary ? varyingValues(e) : null;
      const changed = advance(e, random);
      const us = stamp(e, changed);
      if (vary) e.attrsJson = JSON.stringify(e.attributes);
      e.ctxId = contextId(++seq, us);
      e.stateJson = "";
      record(e);
      const id = JSON.stringify(e.entity_id);
      if (want.events)
        outEvents.push(
          eventEnvelope(
            "state_changed",
            `{"entity_id":${id},"old_state":${old},"new_state":${stateJsonOf(e)}}`,
            isoFromUs(us),
            e.ctxId,
          ),
        );
      if (want.diffs) {
        // HA's diff: the state and last_changed when the state changed, else last_updated; the context;
        // the attributes whose value changed.
        const when = changed
          ? `"s":${JSON.stringify(e.state)},"lc":${jsonFloat(e.lastChangedTs)}`
          : `"lu":${jsonFloat(e.lastUpdatedTs)}`;
        const attrs = before ? changedAttributes(e, before) : "";
        outDiffs.push(`{"c":{${id}:{"+":{${when},"c":"${e.ctxId}"${attrs && `,"a":${attrs}`}}}}}`);
      }
    }
    broadcast("state_changed", outEvents);
    broadcastEntities(outDiffs);
  };

  const startedAt = performance.now();
  const historyAfterMs = opts.historyAvailableAfterMs ?? 0;
  const serialisable = () => home.entities.filter((e) => !e.unserialisable);

  /** HA's `INVALID_JSON_PARTIAL_MESSAGE` with the subscription's id appended (`messages.py`). */
  const invalidJson = (sub: number) =>
    `{"type":"result","success":false,"error":{"code":"unknown_error","message":"Invalid JSON in response"},"id":${sub}}`;
  /** Sends every subscriber of state changes (events and entity diffs) HA's error in place of the event. */
  const broadcastInvalid = (events: boolean, diffs: boolean) => {
    for (const ws of clients) {
      if (!ws.data.authed) continue;
      if (events)
        for (const [sub, type] of ws.data.subs)
          if (type === "state_changed" || type === "*") send(ws, invalidJson(sub));
      if (diffs && ws.data.entitySub !== null) send(ws, invalidJson(ws.data.entitySub));
    }
  };
  /**
   * An update HA cannot serialise (an integration put a non-JSON value in an attribute): every
   * subscriber gets the error in place of the event and the diff; the recorder does not store it
   * ("State is not JSON serializable"); get_states and the `a` snapshot leave the entity out.
   */
  const poison = (e: SimEntity) => {
    e.unserialisable = true;
    e.ctxId = contextId(++seq, stamp(e, false));
    e.stateJson = "";
    broadcastInvalid(true, true);
  };
  /**
   * The integration drops the bad attribute: the diff (against the bad state) serialises again and
   * removes it (`-`); the full event still carries the bad old_state, so it is the error once more.
   */
  const heal = (e: SimEntity) => {
    if (!e.unserialisable) return;
    e.unserialisable = false;
    const us = stamp(e, false);
    e.ctxId = contextId(++seq, us);
    e.stateJson = "";
    record(e);
    broadcastInvalid(true, false);
    broadcastEntities([
      `{"c":{${JSON.stringify(e.entity_id)}:{"+":{"lu":${jsonFloat(e.lastUpdatedTs)},"c":"${e.ctxId}"},"-":{"a":["unserialisable"]}}}}`,
    ]);
  };

  /** Registry updates still to come in a burst (registry-burst fault), one per list request. */
  const registryChanges: { e: SimEntity; name: string }[] = [];
  /** An entity registry update: the user's name changes and `entity_registry_updated` fires. */
  const fireRegistryChange = () => {
    const next = registryChanges.shift();
    if (!next) return;
    const old = next.e.registryName;
    next.e.registryName = next.name;
    clock.next();
    broadcast("entity_registry_updated", [
      eventEnvelope(
        "entity_registry_updated",
        JSON.stringify({ action: "update", entity_id: next.e.entity_id, changes: { name: old } }),
        isoFromUs(clock.lastUs),
        contextId(++seq, clock.lastUs),
      ),
    ]);
  };
  /**
   * `config/entity_registry/list`. While a burst of registry updates is under way, the next update lands
   * just after the list was taken: its event reaches the client before the (already stale) answer, as
   * HA's bursts of entity_registry_updated do while a client refreshes.
   */
  const registryList = (ws: Socket, id: number) => {
    const body = registry.entities(home, opts.registryHasEntityName !== false);
    fireRegistryChange();
    result(ws, id, body);
  };

  /** HA's `async_set` with new attributes and the same state: an attribute-only change (`+lu`, `+a`). */
  const setAttributes = (e: SimEntity, attrs: Record<string, unknown>) => {
    const want = audience();
    const old = want.events ? stateJsonOf(e) : "";
    Object.assign(e.attributes, attrs);
    e.attrsJson = JSON.stringify(e.attributes);
    const us = stamp(e, false);
    e.ctxId = contextId(++seq, us);
    e.stateJson = "";
    record(e);
    const id = JSON.stringify(e.entity_id);
    if (want.events)
      broadcast("state_changed", [
        eventEnvelope(
          "state_changed",
          `{"entity_id":${id},"old_state":${old},"new_state":${stateJsonOf(e)}}`,
          isoFromUs(us),
          e.ctxId,
        ),
      ]);
    if (want.diffs)
      broadcastEntities([
        `{"c":{${id}:{"+":{"lu":${jsonFloat(e.lastUpdatedTs)},"c":"${e.ctxId}","a":${JSON.stringify(attrs)}}}}}`,
      ]);
  };

  /**
   * HA's `async_remove`: the state leaves the state machine (`new_state: null`, a `r` diff) and the
   * recorder stores the removal as a row with state None, which history returns as `"s": null`.
   */
  const remove = (entityId: string) => {
    const e = home.byId.get(entityId);
    if (!e) throw new Error(`sim remove: no entity "${entityId}"`);
    const old = stateJsonOf(e);
    home.byId.delete(entityId);
    home.entities.splice(home.entities.indexOf(e), 1);
    const ts = clock.next();
    const us = clock.lastUs;
    history.push(entityId, null, "{}", ts, us, us, performance.now());
    const id = JSON.stringify(entityId);
    broadcast("state_changed", [
      eventEnvelope(
        "state_changed",
        `{"entity_id":${id},"old_state":${old},"new_state":null}`,
        isoFromUs(us),
        contextId(++seq, us),
      ),
    ]);
    broadcastEntities([`{"r":[${id}]}`]);
    return { removed: entityId };
  };

  let carry = 0;
  let lastTick = performance.now();
  const ticker = setInterval(() => {
    // The home runs on the wall clock and never waits for a client: one that falls behind is HA's
    // problem to cut off (writer.ts), not a reason to slow down.
    const now = performance.now();
    const elapsed = Math.min(now - lastTick, 1000);
    lastTick = now;
    carry += (rate * elapsed) / 1000;
    let n = Math.floor(carry);
    carry -= n;
    if (n > TICK_EVENTS_MAX) {
      n = TICK_EVENTS_MAX;
      carry = 0;
    }
    for (let done = 0; done < n; done += TICK_SLICE) {
      emit(Math.min(TICK_SLICE, n - done));
      flushAll();
    }
  }, TICK_MS);

  const historyPeriod = (ws: Socket, id: number, msg: Record<string, unknown>) => {
    if (historyFails || performance.now() - startedAt < historyAfterMs)
      return error(ws, id, "unknown_command", "Unknown command.");
    const start = typeof msg.start_time === "string" ? usFromIso(msg.start_time) : Number.NaN;
    if (Number.isNaN(start)) return error(ws, id, "invalid_format", "Invalid start_time");
    const end = typeof msg.end_time === "string" ? usFromIso(msg.end_time) : Number.POSITIVE_INFINITY;
    if (Number.isNaN(end)) return error(ws, id, "invalid_format", "Invalid end_time");
    if (!Array.isArray(msg.entity_ids) || msg.entity_ids.length === 0)
      return error(ws, id, "invalid_format", "required key not provided @ data['entity_ids']");
    const ring = history.renderPeriod(
      start,
      end,
      new Set(msg.entity_ids as string[]),
      {
        noAttributes: msg.no_attributes === true,
        significantOnly: msg.significant_changes_only !== false,
        minimal: msg.minimal_response === true,
        includeStart: msg.include_start_time_state !== false,
        startExclusive: opts.historyStartExclusive !== false,
      },
      committedRows(),
    );
    const body = start < past.endUs ? withPast(ring, start, end, msg) : ring;
    if (body.length > historyMaxBytes) {
      ws.close(1009, "history answer too large");
      return;
    }
    result(ws, id, body);
  };

  /** Joins the generated past's rows (older) before the ring's for each entity. */
  const withPast = (ring: string, start: number, end: number, msg: Record<string, unknown>): string => {
    const ids = (msg.entity_ids as unknown[]).filter((x): x is string => typeof x === "string");
    const groups = past.renderGroups(start, end, ids, {
      noAttributes: msg.no_attributes === true,
      includeStart: msg.include_start_time_state !== false,
      startExclusive: opts.historyStartExclusive !== false,
    });
    if (groups.size === 0) return ring;
    const recent = JSON.parse(ring) as Record<string, unknown[]>;
    const parts: string[] = [];
    for (const [id, rows] of groups) {
      // The ring's start state (stamped with the start) is the past's last row: keep the past's.
      const more = (recent[id] ?? []).filter((r) => (r as { lu: number }).lu * 1e6 > past.endUs);
      parts.push(`${JSON.stringify(id)}:[${[...rows, ...more.map((r) => JSON.stringify(r))].join(",")}]`);
      delete recent[id];
    }
    for (const [id, rows] of Object.entries(recent))
      parts.push(`${JSON.stringify(id)}:${JSON.stringify(rows)}`);
    return `{${parts.join(",")}}`;
  };

  /** `recorder/statistics_during_period` (period "hour" only), from the generated past (past.ts). */
  const statisticsPeriod = (ws: Socket, id: number, msg: Record<string, unknown>) => {
    if (historyFails || performance.now() - startedAt < historyAfterMs)
      return error(ws, id, "unknown_command", "Unknown command.");
    const start = typeof msg.start_time === "string" ? usFromIso(msg.start_time) : Number.NaN;
    if (Number.isNaN(start)) return error(ws, id, "invalid_start_time", "Invalid start_time");
    const end = typeof msg.end_time === "string" ? usFromIso(msg.end_time) : Number.POSITIVE_INFINITY;
    if (Number.isNaN(end)) return error(ws, id, "invalid_end_time", "Invalid end_time");
    if (msg.period !== "hour")
      return error(
        ws,
        id,
        "invalid_format",
        `the simulator answers period "hour" only, got ${String(msg.period)}`,
      );
    const ids = Array.isArray(msg.statistic_ids)
      ? msg.statistic_ids.filter((x) => typeof x === "string")
      : [];
    const types = new Set(
      Array.isArray(msg.types)
        ? (msg.types as string[])
        : ["change", "last_reset", "max", "mean", "min", "state", "sum"],
    );
    result(ws, id, JSON.stringify(past.statistics(start, end, ids, types)));
  };

  const command = (ws: Socket, msg: Record<string, unknown>) => {
    const c = ws.data;
    const id = msg.id;
    if (typeof id !== "number" || !Number.isInteger(id))
      return error(
        ws,
        null,
        "invalid_format",
        "Message incorrectly formatted: expected int for dictionary value @ data['id']",
      );
    if (id <= c.lastId) {
      stats.idReuse++;
      return error(ws, id, "id_reuse", "Identifier values have to increase.");
    }
    c.lastId = id;
    if (c.firstId === 0) c.firstId = id;
    switch (msg.type) {
      case "supported_features":
        // HA coalesces when the feature is named at all (`connection.py` `set_supported_features`).
        if (c.writer)
          c.writer.coalesce = Object.hasOwn((msg.features as object | null) ?? {}, "coalesce_messages");
        return result(ws, id, "null");
      case "ping":
        return send(ws, `{"id":${id},"type":"pong"}`);
      case "get_states":
        // As HA's fallback loop: a state it cannot serialise is left out.
        return result(ws, id, `[${serialisable().map(stateJsonOf).join(",")}]`);
      case "subscribe_entities":
        if (opts.subscribeEntities === false) return error(ws, id, "unknown_command", "Unknown command.");
        c.entitySub = id;
        result(ws, id, "null");
        // As HA (`commands.py` `_send_handle_entities_init_response`): the result, then in the same
        // callback one event with every entity's compressed state, id first; coalesced, one frame.
        return send(
          ws,
          `{"id":${id},"type":"event","event":{"a":{${serialisable()
            .map((e) => `${JSON.stringify(e.entity_id)}:${renderCompressed(e)}`)
            .join(",")}}}}`,
        );
      case "get_config":
        return result(ws, id, config());
      case "subscribe_events":
        c.subs.set(id, typeof msg.event_type === "string" ? msg.event_type : "*");
        return result(ws, id, "null");
      case "unsubscribe_events":
        if (msg.subscription === c.entitySub && c.entitySub !== null) {
          c.entitySub = null;
          return result(ws, id, "null");
        }
        if (!c.subs.delete(msg.subscription as number))
          return error(ws, id, "not_found", "Subscription not found.");
        return result(ws, id, "null");
      case "config/area_registry/list":
        return result(ws, id, registry.areas(home));
      case "config/device_registry/list":
        return result(ws, id, registry.devices(home));
      case "config/entity_registry/list":
        return registryList(ws, id);
      case "history/history_during_period":
        return historyPeriod(ws, id, msg);
      case "recorder/statistics_during_period":
        return statisticsPeriod(ws, id, msg);
      default:
        return error(ws, id, "unknown_command", "Unknown command.");
    }
  };

  const onMessage = (ws: Socket, raw: string | Buffer) => {
    const c = ws.data;
    if (c.stalledUntil > Date.now()) return;
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(String(raw));
    } catch {
      ws.close(1003, "Received invalid JSON");
      return;
    }
    if (!c.authed) {
      if (msg.type !== "auth" || msg.access_token !== token || rejectToken) {
        stats.authFailures++;
        send(ws, `{"type":"auth_invalid","message":"Invalid access token or password"}`);
        ws.close(1000, "auth_invalid");
        return;
      }
      // As HA: auth_ok goes straight to the socket; the queue and its writer start after it.
      send(ws, `{"type":"auth_ok","ha_version":"${SIM_HA_VERSION}"}`);
      c.authed = true;
      return;
    }
    command(ws, msg);
  };

  const rename = (from?: string, to?: string) => {
    const e = from ? home.byId.get(from) : home.entities.find((x) => x.kind === "temperature");
    if (!e) throw new Error(`sim rename: no entity "${from}"`);
    const old = e.entity_id;
    const target = to ?? `${old}_renamed`;
    home.byId.delete(old);
    e.entity_id = target;
    e.stateJson = "";
    home.byId.set(target, e);
    clock.next();
    const us = clock.lastUs;
    broadcast("entity_registry_updated", [
      eventEnvelope(
        "entity_registry_updated",
        JSON.stringify({
          action: "update",
          entity_id: target,
          changes: { entity_id: old },
          old_entity_id: old,
        }),
        isoFromUs(us),
        contextId(++seq, us),
      ),
    ]);
    // As HA's state machine: the old id goes, the new one comes with the entity's state.
    broadcastEntities([
      `{"r":[${JSON.stringify(old)}]}`,
      `{"a":{${JSON.stringify(target)}:${renderCompressed(e)}}}`,
    ]);
    return { from: old, to: target };
  };

  const fault = (kind: FaultKind, arg?: string | number): unknown => {
    const authed = [...clients].filter((ws) => ws.data.authed);
    const firstSub = (ws: Socket) => [...ws.data.subs.keys()][0] ?? 1;
    switch (kind) {
      case "drop":
        for (const ws of clients) ws.terminate();
        return { dropped: clients.size };
      case "stall": {
        const ms = Number(arg ?? 5000);
        for (const ws of clients) ws.data.stalledUntil = Date.now() + ms;
        return { stalledMs: ms };
      }
      case "malformed":
        for (const ws of authed) {
          const sub = firstSub(ws);
          sendFrame(ws, "{this is not json");
          sendFrame(ws, `{"id":${sub},"type":"no_such_type"}`);
          sendFrame(ws, `[{"type":"event","id":${sub}}]`);
          sendFrame(
            ws,
            `{"id":${sub},"type":"event","event":{"event_type":"state_changed","data":{"entity_id":"sensor.x","new_state":{"state":1}}}}`,
          );
        }
        return { frames: 4 * authed.length };
      case "huge": {
        const bytes = Number(arg ?? 17 * 1024 * 1024);
        for (const ws of authed) {
          const sub = firstSub(ws);
          const head = `{"id":${sub},"type":"event","event":{"event_type":"state_changed","data":{"pad":"`;
          sendFrame(ws, `${head}${"x".repeat(Math.max(0, bytes - head.length - 4))}"}}}`);
        }
        return { frames: authed.length, bytes };
      }
      case "reject-token":
        rejectToken = true;
        for (const ws of clients) ws.close(1000, "token revoked");
        return { rejecting: true };
      case "accept-token":
        rejectToken = false;
        return { rejecting: false };
      case "reuse-ids":
        for (const ws of authed) result(ws, ws.data.firstId || 1, "null");
        return { frames: authed.length };
      case "rename": {
        const [from, to] = typeof arg === "string" ? arg.split("->") : [];
        return rename(from || undefined, to || undefined);
      }
      case "history-max-bytes":
        historyMaxBytes = arg === undefined || arg === "off" ? Number.POSITIVE_INFINITY : Number(arg);
        return { historyMaxBytes };
      case "fail-history":
        historyFails = arg !== "off";
        return { historyFails };
      case "clock-step": {
        // HA stamps time.time(): an NTP step, a VM restore or a manual change moves it, back as well.
        const ms = Number(arg ?? -5000);
        if (!Number.isFinite(ms))
          throw new Error(`sim clock-step: arg must be ms (negative = back), got ${arg}`);
        clock.step(ms);
        return { steppedMs: ms, offsetMs: clock.offsetMs };
      }
      case "unserialisable": {
        const [target, mode] = typeof arg === "string" ? arg.split("=") : [];
        const e = target ? home.byId.get(target) : home.entities.find((x) => x.kind === "temperature");
        if (!e) throw new Error(`sim unserialisable: no entity "${target}"`);
        if (mode === "off") heal(e);
        else poison(e);
        return { entity_id: e.entity_id, unserialisable: e.unserialisable };
      }
      case "registry-burst": {
        const e = home.entities.find((x) => x.kind === "temperature");
        if (!e) throw new Error("sim registry-burst: no temperature sensor to rename");
        const n = Number(arg ?? 3);
        for (let i = 1; i <= n; i++) registryChanges.push({ e, name: `${e.entityName ?? e.name} ${i}` });
        fireRegistryChange();
        return { entity_id: e.entity_id, changes: n };
      }
      case "remove":
        return remove(String(arg ?? home.entities[home.entities.length - 1]?.entity_id));
      case "big-attributes": {
        // An attribute-only change whose attributes exceed HA's recorder limit (history stores {}).
        const [target, size] =
          typeof arg === "string" && arg.includes("=") ? arg.split("=") : [undefined, arg];
        const e = target ? home.byId.get(target) : home.entities.find((x) => x.kind === "temperature");
        if (!e) throw new Error(`sim big-attributes: no entity "${target}"`);
        const bytes = Number(size ?? 17 * 1024);
        setAttributes(e, { raw: "x".repeat(bytes) });
        return { entity_id: e.entity_id, bytes };
      }
      default:
        throw new Error(
          `unknown fault "${kind}"; expected one of drop, stall, malformed, huge, reject-token, accept-token, reuse-ids, rename, fail-history, history-max-bytes, remove, big-attributes, clock-step, unserialisable, registry-burst`,
        );
    }
  };

  const snapshot = (): SimStats => {
    let pending = 0;
    let pendingMessages = 0;
    let authedCount = 0;
    for (const ws of clients) {
      notePending(ws);
      pending += pendingOf(ws);
      pendingMessages = Math.max(pendingMessages, ws.data.writer?.pendingMessages ?? 0);
      if (ws.data.authed) authedCount++;
    }
    return {
      sent: stats.sent,
      rate,
      entities: home.entities.length,
      clients: authedCount,
      connections: stats.connections,
      authFailures: stats.authFailures,
      framesSent: stats.framesSent,
      bytesSent: stats.bytesSent,
      pendingBytes: pending,
      pendingBytesMax: stats.pendingBytesMax,
      pendingMessages,
      pendingMessagesMax: stats.pendingMessagesMax,
      slowClientsDropped: stats.slowClientsDropped,
      slowClientsDroppedPeak: stats.slowClientsDroppedPeak,
      historySize: history.size,
      historyOverwritten: history.overwritten,
      historyCommitted: committedRows(),
      idReuse: stats.idReuse,
    };
  };

  const setRate = (n: number) => {
    if (!Number.isFinite(n) || n < 0) throw new Error(`sim rate must be a number >= 0, got ${n}`);
    rate = n;
  };

  const server: Server<Client> = Bun.serve<Client>({
    port: opts.port ?? 0,
    hostname: opts.hostname ?? "127.0.0.1",
    fetch(req, srv) {
      const url = new URL(req.url);
      if (url.pathname === "/api/websocket") {
        const data: Client = {
          authed: false,
          lastId: 0,
          subs: new Map(),
          entitySub: null,
          stalledUntil: 0,
          writer: null,
          firstId: 0,
        };
        return srv.upgrade(req, { data })
          ? undefined
          : new Response("expected a WebSocket upgrade", { status: 400 });
      }
      try {
        if (url.pathname === "/sim/stats" && req.method === "GET") return Response.json(snapshot());
        if (url.pathname === "/sim/digest" && req.method === "GET")
          return Response.json(Object.fromEntries(digest));
        if (url.pathname === "/sim/rate" && req.method === "POST") {
          setRate(Number(url.searchParams.get("value")));
          return Response.json({ rate });
        }
        if (url.pathname === "/sim/fault" && req.method === "POST") {
          const arg = url.searchParams.get("arg") ?? undefined;
          return Response.json(fault(url.searchParams.get("kind") as FaultKind, arg) ?? null);
        }
      } catch (e) {
        return Response.json({ error: (e as Error).message }, { status: 400 });
      }
      return new Response("not found: try /api/websocket, GET /sim/stats, POST /sim/rate, POST /sim/fault", {
        status: 404,
      });
    },
    websocket: {
      maxPayloadLength: 64 * 1024 * 1024,
      // Never drop or close in Bun's own buffer: the client queue above is the limit, as in HA.
      backpressureLimit: 1024 * 1024 * 1024,
      closeOnBackpressureLimit: false,
      drain: (ws) => ws.data.writer?.write(),
      open(ws) {
        stats.connections++;
        clients.add(ws);
        ws.data.writer = writerFor(ws);
        send(ws, `{"type":"auth_required","ha_version":"${SIM_HA_VERSION}"}`);
      },
      message: onMessage,
      close(ws) {
        ws.data.writer?.stop();
        clients.delete(ws);
      },
    },
  });
  const port = server.port as number;

  return {
    url: `ws://127.0.0.1:${port}/api/websocket`,
    token,
    port,
    stats: snapshot,
    setRate,
    fault,
    emittedKeys: () => history.keys(),
    past,
    digest: () => Object.fromEntries(digest),
    emit: (n) => emit(n),
    async stop() {
      clearInterval(ticker);
      for (const ws of clients) ws.terminate();
      await server.stop(true);
    },
  };
}
