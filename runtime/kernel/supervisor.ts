/**
 * One-for-one supervisor over worker-thread actors.
 *
 * The tree is data (`TreeSpec`): children start in order and stop in reverse, so list consumers before
 * their producers. Edges are MessageChannels wired straight between actors; the main thread ("hub") can be
 * an edge end too (the API takes the live event feed this way). When a child crashes it is restarted after
 * an exponential backoff; its edges get fresh channels and its peers are rewired, re-sending whatever the
 * dead actor had not acknowledged on retaining edges. More than `maxRestarts` restarts of one child within
 * `periodMs` stops the whole runtime with an error naming the actor and its last failure.
 *
 * An actor that is alive but stuck (messages wait for it and it has finished none of them for
 * `stuckAfterMs`) is handled like a crash: terminated, restarted, counted. The supervisor sees that from
 * shared memory the actor's mailboxes write (runtime/kernel/progress.ts), never by asking the stuck worker.
 */
import { childWorkerOptions } from "./child-args.ts";
import { backoffDelay } from "./clock.ts";
import { control, type EdgePort, type FromWorker, messageType } from "./control.ts";
import { createHeavyTurnSlot, releaseHeldBy } from "./heavy-turn.ts";
import { errorMessage, type Logger, type LogLevel } from "./log.ts";
import { type Delivery, Inbox, Outbox } from "./mailbox.ts";
import { type MetricsHub, Registry } from "./metrics.ts";
import {
  ageMs,
  CREDIT_WAITS,
  createActorSlot,
  createEdgeSlot,
  createTick,
  judge,
  OLDEST_AT,
  OUTSTANDING,
  PROCESSED,
  type ProgressReading,
  type ProgressWatch,
  setTick,
  type Verdict,
  watchIntervalMs,
} from "./progress.ts";

/** The main thread's name as an edge end. */
export const HUB = "hub";

export interface ChildSpec {
  name: string;
  /** Path or URL of the actor's worker.ts. */
  module: string;
  /**
   * Arguments for the module (OTP's `{M, F, A}`): the same module runs once per spec, each reading its own
   * with `childArgs()` (./child-args.ts). Kept across restarts.
   */
  args?: readonly string[];
}

export interface EdgeSpec {
  name: string;
  from: string;
  to: string;
  capacity: number;
  /** Keep unacknowledged messages and re-send them to a restarted receiver (event edges). */
  retain: boolean;
}

export interface TreeSpec {
  children: ChildSpec[];
  edges: EdgeSpec[];
  maxRestarts: number;
  periodMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  startTimeoutMs: number;
  metricsIntervalMs: number;
  /**
   * An actor with messages waiting that finishes none of them for this long is stuck and is restarted
   * (`supervisor.stuckAfterMs`; DEFAULT_STUCK_AFTER_MS when absent).
   */
  stuckAfterMs?: number;
  logLevel: LogLevel;
  /** Handed to every actor at init. */
  config: unknown;
}

export type ActorState = "starting" | "running" | "restarting" | "failed" | "stopping" | "stopped";

export interface ActorStatus {
  name: string;
  state: ActorState;
  restarts: number;
  lastError?: string;
  lastErrorAt?: number;
  startedAt?: number;
  /** How long the oldest message sent to the actor and not yet acknowledged has waited (0: none waits). */
  mailboxOldestAgeMs?: number;
  /** The actor is waiting for credit to send downstream: held up by another actor, not stuck itself. */
  heldUp?: boolean;
}

/** `supervisor.stuckAfterMs`'s default, for trees built without a config (the runtime's own tests). */
export const DEFAULT_STUCK_AFTER_MS = 30_000;

interface Child {
  spec: ChildSpec;
  status: ActorStatus;
  worker?: Worker;
  /** Restart times within the intensity window. */
  recentRestarts: number[];
  ready?: { resolve: () => void; reject: (e: Error) => void };
  stopped?: () => void;
  restartTimer?: ReturnType<typeof setTimeout>;
  /** The current worker's slot in the stuck watch, and what the last round saw of it. */
  slot?: Int32Array;
  watch?: ProgressWatch;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class RestartIntensityError extends Error {
  constructor(
    readonly actor: string,
    readonly lastFailure: string,
    restarts: number,
    periodMs: number,
    limit: number,
  ) {
    super(
      `actor "${actor}" crashed ${restarts} times within ${periodMs / 1000} s (limit ${limit}); stopping HomeIQ. Last failure: ${lastFailure}`,
    );
    this.name = "RestartIntensityError";
  }
}

export interface SupervisorOptions {
  log: Logger;
  metrics: MetricsHub;
  /** Called once when the runtime must stop (restart intensity exceeded). */
  onFatal: (error: Error) => void;
  /** Monotonic milliseconds for the stuck watch (default `performance.now`); never the wall clock. */
  now?: () => number;
}

export class Supervisor {
  private readonly children = new Map<string, Child>();
  private readonly hubOutboxes = new Map<string, Outbox<unknown>>();
  private readonly hubHandlers = new Map<string, (message: unknown) => void | Promise<void>>();
  private readonly noticeListeners = new Set<(actor: string, name: string, data: unknown) => void>();
  private readonly notices = new Map<string, unknown>();
  private readonly pendingCalls = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  private readonly hubInbox: Inbox;
  readonly hubMetrics = new Registry({ actor: HUB });
  /** One heavy background run at a time across all actors (runtime/kernel/heavy-turn.ts). */
  private readonly heavyTurn = createHeavyTurnSlot();
  /** The stuck watch: the shared clock, each outbound edge's slot (by edge name), the round timer. */
  private readonly tick = createTick();
  private readonly edgeSlots = new Map<string, Int32Array<SharedArrayBuffer>>();
  private watchTimer?: ReturnType<typeof setInterval>;
  private readonly now: () => number;
  readonly stuckAfterMs: number;
  private nextCallId = 1;
  private stopping = false;
  private fatal = false;

  constructor(
    private readonly spec: TreeSpec,
    private readonly opts: SupervisorOptions,
  ) {
    this.now = opts.now ?? (() => performance.now());
    this.stuckAfterMs = spec.stuckAfterMs ?? DEFAULT_STUCK_AFTER_MS;
    setTick(this.tick, this.now());
    this.hubMetrics
      .gauge(
        "supervisor_stuck_after_ms",
        "Bound: an actor finishing no waiting message this long is restarted",
      )
      .set(this.stuckAfterMs);
    this.hubInbox = new Inbox({
      actor: HUB,
      metrics: this.hubMetrics,
      handle: (d: Delivery) => this.hubHandlers.get(d.edge)?.(d.message),
      onError: (error, d) =>
        opts.log.error("hub handler failed", { edge: d.edge, error: errorMessage(error) }),
    });
    for (const child of spec.children) {
      this.children.set(child.name, {
        spec: child,
        status: { name: child.name, state: "stopped", restarts: 0 },
        recentRestarts: [],
      });
    }
    for (const edge of spec.edges) {
      for (const end of [edge.from, edge.to]) {
        if (end !== HUB && !this.children.has(end))
          throw new Error(`edge "${edge.name}" names unknown actor "${end}"`);
      }
    }
  }

  /** Registers the main thread's handler for an edge whose receiver is the hub. Call before start(). */
  onHubMessage<M>(edge: string, handler: (message: M) => void | Promise<void>): void {
    this.hubHandlers.set(edge, handler as (m: unknown) => void);
  }

  /** The main thread's sending end of an edge whose sender is the hub. */
  hubOutbox<M>(edge: string): Outbox<M> {
    const out = this.hubOutboxes.get(edge);
    if (!out) throw new Error(`no hub edge "${edge}" is wired`);
    return out as Outbox<M>;
  }

  onNotice(listener: (actor: string, name: string, data: unknown) => void): void {
    this.noticeListeners.add(listener);
  }

  /** The latest notice an actor sent under a name (e.g. connection/ha-status). */
  notice(actor: string, name: string): unknown {
    return this.notices.get(`${actor}/${name}`);
  }

  status(): ActorStatus[] {
    const now = this.now();
    return [...this.children.values()].map((c) => {
      const progress = this.progressOf(c, now);
      return {
        ...c.status,
        mailboxOldestAgeMs: progress.oldestAgeMs,
        ...(progress.blocked ? { heldUp: true } : {}),
      };
    });
  }

  /** Starts every child in order; resolves when all are running. */
  async start(): Promise<void> {
    if (!this.watchTimer) {
      this.watchTimer = setInterval(() => this.watchRound(), watchIntervalMs(this.stuckAfterMs));
      this.watchTimer.unref?.();
    }
    for (const child of this.children.values()) {
      if (this.fatal) throw new Error("runtime stopped during start");
      await this.spawn(child);
    }
  }

  /** Sends a request to an actor and waits for its answer. */
  call(actor: string, body: unknown, timeoutMs = 10000): Promise<unknown> {
    const child = this.children.get(actor);
    if (!child?.worker || child.status.state !== "running") {
      return Promise.reject(
        new Error(`actor "${actor}" is not running (state ${child?.status.state ?? "unknown"})`),
      );
    }
    const id = this.nextCallId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingCalls.delete(id);
        reject(new Error(`actor "${actor}" did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pendingCalls.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      child.worker!.postMessage(control.call(id, body));
    });
  }

  /** Fault injection: makes a running actor fail as if its code had thrown (soak runs, tests). */
  crash(actor: string, reason = "crash injected"): boolean {
    const child = this.children.get(actor);
    if (!child?.worker || child.status.state !== "running") return false;
    child.worker.postMessage(control.crash(reason));
    return true;
  }

  /**
   * Stops children in reverse start order: each stops intake, drains its mailbox, waits for its outboxes
   * to be acknowledged and flushes. Resolves true if all stopped cleanly before the deadline.
   */
  async stop(deadlineMs: number): Promise<boolean> {
    this.stopping = true;
    clearInterval(this.watchTimer);
    const deadline = Date.now() + deadlineMs;
    let clean = true;
    // The main thread is a producer too: what it has sent (or is waiting to send) goes in first.
    const hubDrained = Promise.all([...this.hubOutboxes.values()].map((o) => o.drained()));
    clean = await Promise.race([hubDrained.then(() => true), sleep(deadlineMs).then(() => false)]);
    for (const child of [...this.children.values()].reverse()) {
      if (child.restartTimer) clearTimeout(child.restartTimer);
      const worker = child.worker;
      if (!worker) continue;
      child.status.state = "stopping";
      const remaining = deadline - Date.now();
      const stoppedInTime = await new Promise<boolean>((resolve) => {
        if (remaining <= 0) return resolve(false);
        const timer = setTimeout(() => resolve(false), remaining);
        child.stopped = () => {
          clearTimeout(timer);
          resolve(true);
        };
        worker.postMessage(control.stop());
      });
      if (!stoppedInTime) {
        clean = false;
        this.opts.log.warn("actor did not stop before the deadline; terminating it", {
          target: child.spec.name,
        });
      }
      child.worker = undefined;
      worker.terminate();
      child.status.state = "stopped";
    }
    return clean;
  }

  /** Terminates every worker at once (second signal, or fatal error). */
  kill(): void {
    this.stopping = true;
    clearInterval(this.watchTimer);
    for (const child of this.children.values()) {
      if (child.restartTimer) clearTimeout(child.restartTimer);
      child.worker?.terminate();
      child.worker = undefined;
      if (child.status.state !== "failed") child.status.state = "stopped";
    }
  }

  private alive(name: string): boolean {
    if (name === HUB) return true;
    const c = this.children.get(name);
    return !!c?.worker && (c.status.state === "running" || c.status.state === "starting");
  }

  /** Creates a fresh channel for an edge and hands the peer (not `self`) its end right away. */
  private connect(edge: EdgeSpec, self: string): { port: MessagePort; spec: EdgeSpec } {
    const channel = new MessageChannel();
    const senderPort = channel.port1;
    const receiverPort = channel.port2;
    const selfIsSender = edge.from === self;
    const peer = selfIsSender ? edge.to : edge.from;
    const peerPort = selfIsSender ? receiverPort : senderPort;
    const peerEnd: EdgePort = {
      edge: edge.name,
      port: peerPort,
      capacity: edge.capacity,
      retain: edge.retain,
      // The peer is the sender: a new outbox there reports into this edge's slot.
      slot: selfIsSender ? undefined : this.edgeSlotFor(edge.name).buffer,
    };
    if (peer === HUB) {
      if (selfIsSender) this.hubInbox.attach(edge.name, peerPort, edge.capacity);
      else {
        const existing = this.hubOutboxes.get(edge.name);
        if (existing) existing.rewire(peerPort);
        else {
          const out = new Outbox(peerPort, {
            edge: edge.name,
            capacity: edge.capacity,
            retain: edge.retain,
            metrics: this.hubMetrics,
            // The main thread stamps with the supervisor's clock itself: finer than the tick it publishes.
            watch: { edge: this.edgeSlotFor(edge.name).buffer, now: () => Math.floor(this.now()) | 0 },
          });
          out.onPoison = (message) =>
            this.opts.log.error("message set aside: it crashed its receiver on every redelivery", {
              edge: edge.name,
              type: messageType(message),
            });
          this.hubOutboxes.set(edge.name, out);
        }
      }
    } else {
      const worker = this.children.get(peer)!.worker!;
      worker.postMessage(selfIsSender ? control.rewireIn(peerEnd) : control.rewireOut(peerEnd), [peerPort]);
    }
    return { port: selfIsSender ? senderPort : receiverPort, spec: edge };
  }

  private spawn(child: Child): Promise<void> {
    const name = child.spec.name;
    child.status.state = "starting";
    const worker = new Worker(child.spec.module, childWorkerOptions(child.spec.args));
    child.worker = worker;
    const actorSlot = createActorSlot();
    child.slot = new Int32Array(actorSlot);
    child.watch = { processed: 0, progressAt: this.now() };
    // The new worker's outboxes start empty: fresh slots, so nothing its predecessor left shows as waiting.
    for (const edge of this.spec.edges)
      if (edge.from === name) this.edgeSlots.set(edge.name, new Int32Array(createEdgeSlot()));
    const outboxes: EdgePort[] = [];
    const inboxes: EdgePort[] = [];
    const transfer: MessagePort[] = [];
    for (const edge of this.spec.edges) {
      if (edge.from !== name && edge.to !== name) continue;
      const peer = edge.from === name ? edge.to : edge.from;
      if (!this.alive(peer)) continue; // the peer wires this edge when it starts
      const { port } = this.connect(edge, name);
      const end: EdgePort = {
        edge: edge.name,
        port,
        capacity: edge.capacity,
        retain: edge.retain,
        slot: edge.from === name ? this.edgeSlotFor(edge.name).buffer : undefined,
      };
      (edge.from === name ? outboxes : inboxes).push(end);
      transfer.push(port);
    }
    worker.addEventListener("message", (event: MessageEvent<FromWorker>) =>
      this.onWorkerMessage(child, worker, event.data),
    );
    worker.addEventListener("error", (event: Event) => {
      const e = event as ErrorEvent;
      this.onCrash(child, worker, e.error ? errorMessage(e.error) : e.message || "worker error");
    });
    worker.addEventListener("close", () => {
      if (child.worker === worker && !this.stopping)
        this.onCrash(child, worker, "worker exited unexpectedly");
      child.stopped?.();
    });
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => this.onCrash(child, worker, `did not report ready within ${this.spec.startTimeoutMs} ms`),
        this.spec.startTimeoutMs,
      );
      child.ready = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
    worker.postMessage(
      control.init({
        actor: name,
        config: this.spec.config,
        logLevel: this.spec.logLevel,
        metricsIntervalMs: this.spec.metricsIntervalMs,
        heavyTurn: { slot: this.heavyTurn, holder: this.holderOf(child) },
        watch: { tick: this.tick, actor: actorSlot },
        outboxes,
        inboxes,
      }),
      transfer,
    );
    return ready;
  }

  private onWorkerMessage(child: Child, worker: Worker, msg: FromWorker): void {
    if (child.worker !== worker) return;
    switch (msg.type) {
      case "ready":
        child.status.state = "running";
        child.status.startedAt = Date.now();
        child.ready?.resolve();
        child.ready = undefined;
        return;
      case "metrics":
        this.opts.metrics.update(child.spec.name, msg.snapshot);
        return;
      case "reply": {
        const pending = this.pendingCalls.get(msg.id);
        if (!pending) return;
        this.pendingCalls.delete(msg.id);
        if (msg.ok) pending.resolve(msg.value);
        else pending.reject(new Error(msg.error));
        return;
      }
      case "notice":
        this.notices.set(`${child.spec.name}/${msg.name}`, msg.data);
        for (const listener of this.noticeListeners) listener(child.spec.name, msg.name, msg.data);
        return;
      case "fatal":
        this.onCrash(child, worker, msg.error);
        return;
      case "stopped":
        child.stopped?.();
        return;
    }
  }

  /** An actor's id in the heavy-run turn: its place in the tree, from 1 (0 means the turn is free). */
  private holderOf(child: Child): number {
    return this.spec.children.indexOf(child.spec) + 1;
  }

  private onCrash(child: Child, worker: Worker, reason: string): void {
    if (child.worker !== worker) return; // already handled
    child.worker = undefined;
    worker.terminate();
    // A heavy run that died with its actor must not keep every other heavy run waiting.
    releaseHeldBy(this.heavyTurn, this.holderOf(child));
    const name = child.spec.name;
    // What the dead worker had sent is no longer waiting on it; its restart gets fresh slots.
    for (const edge of this.spec.edges) if (edge.from === name) this.edgeSlots.delete(edge.name);
    if (this.stopping) {
      child.stopped?.();
      return;
    }
    const now = Date.now();
    child.status.lastError = reason;
    child.status.lastErrorAt = now;
    child.recentRestarts = child.recentRestarts.filter((t) => now - t < this.spec.periodMs);
    if (child.recentRestarts.length >= this.spec.maxRestarts) {
      child.status.state = "failed";
      const error = new RestartIntensityError(
        name,
        reason,
        child.recentRestarts.length + 1,
        this.spec.periodMs,
        this.spec.maxRestarts,
      );
      this.opts.log.error(error.message, { target: name });
      this.fatal = true;
      child.ready?.reject(error);
      this.opts.onFatal(error);
      return;
    }
    const delay = backoffDelay(child.recentRestarts.length, this.spec.backoffMinMs, this.spec.backoffMaxMs);
    child.recentRestarts.push(now);
    child.status.restarts++;
    this.hubMetrics
      .counter("actor_restarts_total", "Restarts of an actor after a crash", { child: name })
      .inc();
    child.status.state = "restarting";
    this.opts.log.warn("actor crashed; restarting", {
      target: name,
      error: reason,
      delayMs: delay,
      restarts: child.status.restarts,
    });
    const pendingReady = child.ready;
    child.restartTimer = setTimeout(() => {
      child.restartTimer = undefined;
      if (this.stopping) return;
      // A start that is still awaited (initial start) resolves when the restarted worker is ready.
      this.spawn(child).then(
        () => pendingReady?.resolve(),
        (e) => pendingReady?.reject(e),
      );
    }, delay);
  }

  private edgeSlotFor(edge: string): Int32Array<SharedArrayBuffer> {
    let slot = this.edgeSlots.get(edge);
    if (!slot) {
      slot = new Int32Array(createEdgeSlot());
      this.edgeSlots.set(edge, slot);
    }
    return slot;
  }

  /** What shared memory says of an actor right now: its handled count and what waits for it. */
  private progressOf(child: Child, now: number): ProgressReading {
    const tick = Math.floor(now) | 0;
    let waiting = 0;
    let oldestAgeMs = 0;
    for (const edge of this.spec.edges) {
      if (edge.to !== child.spec.name) continue;
      const slot = this.edgeSlots.get(edge.name);
      if (!slot) continue;
      const outstanding = Atomics.load(slot, OUTSTANDING);
      if (outstanding <= 0) continue;
      waiting += outstanding;
      oldestAgeMs = Math.max(oldestAgeMs, ageMs(tick, Atomics.load(slot, OLDEST_AT)));
    }
    const slot = child.slot;
    return {
      processed: slot ? Atomics.load(slot, PROCESSED) : 0,
      waiting,
      oldestAgeMs,
      blocked: slot ? Atomics.load(slot, CREDIT_WAITS) > 0 : false,
    };
  }

  /**
   * One round of the stuck watch (every tenth of `stuckAfterMs`, 10 ms to 1 s): moves the shared clock on,
   * publishes each actor's oldest waiting age, and restarts an actor judged stuck (progress.ts `judge`).
   */
  private watchRound(): void {
    if (this.stopping) return;
    const now = this.now();
    setTick(this.tick, now);
    for (const child of this.children.values()) {
      const reading = this.progressOf(child, now);
      this.hubMetrics
        .gauge(
          "mailbox_oldest_age_ms",
          "Age of the oldest message sent to an actor and not yet acknowledged",
          {
            actor: child.spec.name,
          },
        )
        .set(reading.oldestAgeMs);
      const worker = child.worker;
      if (!worker || child.status.state !== "running" || !child.watch) continue;
      const { watch, verdict } = judge(child.watch, reading, now, this.stuckAfterMs);
      child.watch = watch;
      if (verdict.kind === "stuck") this.onStuck(child, worker, verdict);
    }
  }

  /**
   * A stuck actor is ended like a crashed one (terminate, restart with backoff, counted in the restart
   * intensity): its retaining senders re-send what it had not acknowledged, so a stuck restart loses what a
   * crash loses, which on event edges is nothing.
   */
  private onStuck(child: Child, worker: Worker, verdict: Extract<Verdict, { kind: "stuck" }>): void {
    const name = child.spec.name;
    this.hubMetrics
      .counter("actor_stuck_restarts_total", "Restarts of an actor that had stopped taking messages", {
        actor: name,
      })
      .inc();
    const reason = `stuck: finished no message for ${Math.round(verdict.stalledMs)} ms while ${verdict.waiting} waited, the oldest for ${verdict.oldestAgeMs} ms (supervisor.stuckAfterMs is ${this.stuckAfterMs})`;
    this.opts.log.error("actor stopped taking messages; terminating it", { target: name, error: reason });
    this.onCrash(child, worker, reason);
  }
}
