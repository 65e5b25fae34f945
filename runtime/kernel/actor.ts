/**
 * The thin adapter every actor's `worker.ts` calls: it speaks the control protocol with the supervisor,
 * owns the actor's inbox and outboxes, validates inbound messages against the actor's schemas, ships
 * metrics snapshots, and turns any thrown error into a reported crash. Actor logic stays free of all that.
 *
 * @example
 * // actors/echo/worker.ts
 * runActor({ name: "echo", check: messageChecker("echo", schemas), start: (ctx) => ({
 *   handle: (msg) => ctx.outbox<EchoOut>("echo->sink").send(msg),
 * }) });
 */
import type { ActorConfig as HomeIQConfig } from "./actor-config.ts";
import { type Clock, systemClock } from "./clock.ts";
import { control, type EdgePort, type FromWorker, messageType, type ToWorker } from "./control.ts";
import { threadCpuMeter, threadCpuSeconds } from "./cpu.ts";
import { HeavyTurn } from "./heavy-turn.ts";
import { createLogger, errorMessage, type Logger } from "./log.ts";
import { Inbox, Outbox } from "./mailbox.ts";
import { giveBackMemory, heapFootprint, processRss } from "./memory.ts";
import { Registry } from "./metrics.ts";
import { tickClock } from "./progress.ts";
import type { MessageCheck } from "./schema.ts";

export interface ActorContext {
  readonly actor: string;
  readonly config: HomeIQConfig;
  readonly log: Logger;
  readonly metrics: Registry;
  readonly clock: Clock;
  /** The sending end of an outbound edge, by edge name (see runtime/app/tree.ts). */
  outbox<M>(edge: string): Outbox<M>;
  /** Whether an outbound edge is wired (optional edges may be absent, e.g. with InfluxDB off). */
  hasOutbox(edge: string): boolean;
  /** Tells the supervisor something it shows in status (e.g. the HA connection state). */
  notify(name: string, data: unknown): void;
  /**
   * Runs a heavy background job (a week of history read, a mining run) in the process-wide turn: one such
   * job at a time across all actors, so their memory peaks never stack (runtime/kernel/heavy-turn.ts). When it
   * ends, the actor's heap is collected before the turn passes on (`actor_burst_gc_total`): the run's
   * garbage and the heap's free blocks go back to the OS instead of lingering under the next run.
   */
  heavyRun<T>(fn: () => T | Promise<T>): Promise<T>;
  /**
   * Compares the heap with actorHeapCollectBytes now (at most once per PRESSURE_CHECK_MS) and collects when
   * it has grown past it. The kernel checks before each inbox delivery and on a timer; an actor whose work
   * arrives from a socket instead (the HA connection) calls this per frame, where a flood would otherwise
   * keep the timer waiting while its heap fills with dead frames.
   */
  heapCheck(): void;
}

export interface ActorInstance<In> {
  /** Handles one inbound message; the message is acknowledged (credit returned) when this settles. */
  handle(message: In, edge: string): void | Promise<void>;
  /**
   * Optional: handles every message already waiting (in arrival order, up to `drainMax`) in one call; used
   * instead of `handle` when present. Under load this turns many small messages into one unit of work.
   */
  handleMany?(messages: { message: In; edge: string }[]): void | Promise<void>;
  /** Most messages one handleMany call takes (default 64). */
  drainMax?: number;
  /** Answers a request from the supervisor or the API. */
  call?(body: unknown): unknown | Promise<unknown>;
  /** Stops taking in new work (e.g. closes a socket); called first on shutdown, before the inbox drains. */
  stopIntake?(): void | Promise<void>;
  /** Flushes and releases resources; called after the inbox has drained and outboxes are acknowledged. */
  close?(): void | Promise<void>;
}

export interface ActorDefinition<In> {
  name: string;
  check: MessageCheck<In>;
  start(ctx: ActorContext): ActorInstance<NoInfer<In>> | Promise<ActorInstance<NoInfer<In>>>;
}

type WorkerScope = {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  addEventListener(type: string, listener: (event: Event) => void): void;
};

/** Runs an actor inside the current worker. Call once, at the top level of the actor's `worker.ts`. */
export function runActor<In>(definition: ActorDefinition<In>): void {
  const scope = globalThis as unknown as WorkerScope;
  const post = (message: FromWorker) => scope.postMessage(message);
  let instance: ActorInstance<In> | undefined;
  let inbox: Inbox | undefined;
  let log: Logger = createLogger({ actor: definition.name, level: "info" });
  const outboxes = new Map<string, Outbox<unknown>>();
  let metrics = new Registry({ actor: definition.name });
  let metricsTimer: ReturnType<typeof setInterval> | undefined;
  let cancelSettle = () => {};
  let pressureTimer: ReturnType<typeof setInterval> | undefined;
  let dead = false;
  let watch: { actor: SharedArrayBuffer; now: () => number } | undefined;

  const die = (error: unknown) => {
    if (dead) return;
    dead = true;
    if (metricsTimer) clearInterval(metricsTimer);
    if (pressureTimer) clearInterval(pressureTimer);
    post(control.metrics(metrics.snapshot()));
    post(control.fatal(errorMessage(error)));
  };
  scope.addEventListener("error", (event) =>
    die((event as ErrorEvent).error ?? (event as ErrorEvent).message),
  );
  scope.addEventListener("unhandledrejection", (event) => die((event as PromiseRejectionEvent).reason));

  const addOutbox = (spec: EdgePort) => {
    const out = new Outbox(spec.port, {
      edge: spec.edge,
      capacity: spec.capacity,
      retain: spec.retain,
      metrics,
      watch: watch && spec.slot ? { edge: spec.slot, actor: watch.actor, now: watch.now } : undefined,
    });
    out.onPoison = (message) =>
      log.error("message set aside: it crashed its receiver on every redelivery", {
        edge: spec.edge,
        type: messageType(message),
      });
    outboxes.set(spec.edge, out);
  };

  const init = async (msg: Extract<ToWorker, { type: "init" }>) => {
    log = createLogger({ actor: definition.name, level: msg.logLevel });
    metrics = new Registry({ actor: definition.name });
    const rejected = metrics.counter("messages_rejected_total", "Inbound messages that failed their schema");
    // Each worker has its own JS heap: which actor holds the memory shows here.
    const heap = metrics.gauge(
      "actor_heap_bytes",
      "Bytes this actor's JavaScript heap holds: its blocks, live or dead, and what its strings and buffers own",
    );
    const collections = {
      quiet: metrics.counter(
        "actor_quiet_gc_total",
        "Full collections run because the actor went quiet with a burst's garbage in its heap",
      ),
      tidy: metrics.counter(
        "actor_tidy_gc_total",
        "Full collections run because a steady load's dead objects had piled up in the heap",
      ),
      burst: metrics.counter(
        "actor_burst_gc_total",
        "Full collections run right after a heavy run (ctx.heavyRun), before the turn passes on",
      ),
      pressure: metrics.counter(
        "actor_pressure_gc_total",
        "Full collections run because the heap grew actorHeapCollectBytes past what the last one left",
      ),
      budget: metrics.counter(
        "actor_budget_gc_total",
        "Full collections run because the process was over memoryBudgetBytes and this heap held garbage",
      ),
    };
    const config = msg.config as HomeIQConfig;
    // Trees in the runtime's own tests hand actors a partial config.
    const collectAbove = (config as Partial<HomeIQConfig>).actorHeapCollectBytes ?? 0;
    metrics
      .gauge(
        "actor_heap_collect_bytes",
        "Heap growth past the last full collection that triggers the next one (actorHeapCollectBytes; 0 = off)",
      )
      .set(collectAbove);
    const budgetBytes = (config as Partial<HomeIQConfig>).memoryBudgetBytes ?? 0;
    metrics
      .gauge(
        "memory_budget_bytes",
        "Process memory (RSS) past which every actor collects (memoryBudgetBytes; 0 = off)",
      )
      .set(budgetBytes);
    const budget = memoryBudget(budgetBytes);
    const heavyTurn = new HeavyTurn({
      slot: msg.heavyTurn.slot,
      holder: msg.heavyTurn.holder,
      // Trees in the runtime's own tests hand actors a partial config.
      maxWaitMs: (config as Partial<HomeIQConfig>).heavyRunMaxWaitMs ?? 15 * 60_000,
      metrics,
      onTimeout: (waitedMs, holder) =>
        log.warn("a heavy run waited heavyRunMaxWaitMs for its turn and runs beside the holder", {
          waitedMs: Math.round(waitedMs),
          holder,
          fix: "look for a stuck analysis or mining run in the logs, or raise HOMEIQ_HEAVY_RUN_MAX_WAIT_MS",
        }),
    });
    const collector = heapCollector(
      QUIET_GC_SLACK_BYTES,
      TIDY_GC_SLACK_BYTES,
      TIDY_GC_EVERY_MS,
      collectAbove,
    );
    const cpu = threadCpuMeter(metrics);
    const collect = (reason: CollectReason | "burst" | "pressure" | "budget") => {
      Bun.gc(true);
      // Quiet now (or a heavy run just ended): the freed memory can go back to the OS too. Not under a
      // steady load ("tidy"), where the code and pages are about to be used again, and not under pressure
      // or over the budget: those fire every PRESSURE_CHECK_MS in many actors at once, and giving memory
      // back at that rate cost CPU per change 57-85 µs instead of 33-37 and twice left two actors taking no
      // message for 30 s (bench:e2e --rate max).
      if (reason === "quiet" || reason === "burst") giveBackMemory();
      collector.collected(heapFootprint(), performance.now());
      collections[reason].inc();
    };
    // Checked from a timer and before each delivery: a busy actor's timers may wait behind its messages.
    let pressureCheckedAt = 0;
    const pressure = () => {
      if (collectAbove <= 0 && budgetBytes <= 0) return;
      const now = performance.now();
      if (now - pressureCheckedAt < PRESSURE_CHECK_MS) return;
      pressureCheckedAt = now;
      const footprint = heapFootprint();
      if (collector.pressed(footprint)) collect("pressure");
      else if (budget.due(now, footprint, collector.floor())) collect("budget");
    };
    const shipMetrics = () => {
      cpu.sample();
      const reason = collector.due(heapFootprint(), performance.now());
      if (reason) collect(reason);
      heap.set(heapFootprint());
      post(control.metrics(metrics.snapshot()));
    };
    watch = { actor: msg.watch.actor, now: tickClock(msg.watch.tick) };
    for (const spec of msg.outboxes) addOutbox(spec);
    inbox = new Inbox({
      actor: definition.name,
      metrics,
      progress: msg.watch.actor,
      handle: ({ edge, message }) => {
        pressure();
        const checked = definition.check(message);
        if (!checked.ok) {
          rejected.inc();
          log.warn(checked.error, { edge });
          return;
        }
        return instance!.handle(checked.value, edge);
      },

      onError: (error) => die(error),
    });
    const ctx: ActorContext = {
      actor: definition.name,
      config,
      log,
      metrics,
      clock: systemClock,
      outbox: <M>(edge: string) => {
        const out = outboxes.get(edge);
        if (!out)
          throw new Error(
            `actor "${definition.name}" has no outbound edge "${edge}"; wire it in runtime/app/tree.ts`,
          );
        return out as Outbox<M>;
      },
      hasOutbox: (edge) => outboxes.has(edge),
      notify: (name, data) => post(control.notice(name, data)),
      heavyRun: (fn) =>
        heavyTurn.run(async () => {
          try {
            return await fn();
          } finally {
            collect("burst");
          }
        }),
      heapCheck: pressure,
    };
    instance = await definition.start(ctx);
    const handleMany = instance.handleMany?.bind(instance);
    if (handleMany) {
      inbox.batchWith((deliveries) => {
        pressure();
        const valid: { message: In; edge: string }[] = [];
        for (const { edge, message } of deliveries) {
          const checked = definition.check(message);
          if (checked.ok) valid.push({ message: checked.value, edge });
          else {
            rejected.inc();
            log.warn(checked.error, { edge });
          }
        }
        return valid.length ? handleMany(valid) : undefined;
      }, instance.drainMax ?? 64);
    }
    // Inboxes attach only once the instance exists, so no message arrives before there is a handler.
    for (const spec of msg.inboxes) inbox.attach(spec.edge, spec.port, spec.capacity);
    metricsTimer = setInterval(shipMetrics, msg.metricsIntervalMs);
    // Under a burst an actor's heap (mostly big strings: frames, packed batches) can grow by hundreds of MB
    // between two metrics intervals before JavaScriptCore's own heuristics collect it; checked more often.
    if (collectAbove > 0 || budgetBytes > 0) pressureTimer = setInterval(pressure, PRESSURE_CHECK_MS);
    shipMetrics();
    post(control.ready());
    cancelSettle = whenSettled(giveBackMemory);
  };

  const stop = async () => {
    await instance?.stopIntake?.();
    await inbox?.idle();
    await Promise.all([...outboxes.values()].map((o) => o.drained()));
    await instance?.close?.();
    if (metricsTimer) clearInterval(metricsTimer);
    cancelSettle();
    if (pressureTimer) clearInterval(pressureTimer);
    post(control.metrics(metrics.snapshot()));
    post(control.stopped());
  };

  scope.onmessage = (event) => {
    const msg = event.data;
    switch (msg.type) {
      case "init":
        init(msg).catch(die);
        return;
      case "rewire-out": {
        const out = outboxes.get(msg.edge.edge);
        if (out) out.rewire(msg.edge.port);
        else addOutbox(msg.edge);
        return;
      }
      case "rewire-in":
        inbox?.attach(msg.edge.edge, msg.edge.port, msg.edge.capacity);
        return;
      case "call": {
        const { id, body } = msg;
        Promise.resolve()
          .then(() => {
            if (!instance?.call) throw new Error(`actor "${definition.name}" takes no calls`);
            return instance.call(body);
          })
          .then(
            (value) => post(control.replyOk(id, value)),
            (error) => post(control.replyError(id, errorMessage(error))),
          );
        return;
      }
      case "stop":
        stop().catch(die);
        return;
      case "crash":
        die(new Error(msg.reason));
        return;
    }
  };
}

/** Window over which a thread must stay near idle before its start-up leftovers are given back. */
const SETTLE_MS = 5_000;
/** Share of one core below which a thread counts as settled over SETTLE_MS. */
const SETTLED_CPU_SHARE = 0.05;

/**
 * Runs `fn` once the calling thread has used under SETTLED_CPU_SHARE of a core over a SETTLE_MS window
 * (checked every window; a busy thread — the batcher under load — is left alone). Returns a cancel.
 */
export function whenSettled(
  fn: () => void,
  opts: { windowMs?: number; cpuSeconds?: () => number | null } = {},
): () => void {
  const windowMs = opts.windowMs ?? SETTLE_MS;
  const cpuSeconds = opts.cpuSeconds ?? threadCpuSeconds;
  let last = cpuSeconds();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = () => {
    const now = cpuSeconds();
    const busy = now !== null && last !== null && now - last > (SETTLED_CPU_SHARE * windowMs) / 1000;
    last = now;
    if (busy) arm();
    else fn();
  };
  const arm = () => {
    timer = setTimeout(check, windowMs);
    // Never what keeps a thread alive.
    (timer as { unref?: () => void }).unref?.();
  };
  arm();
  return () => clearTimeout(timer);
}

/** Heap above what the last collection left, past which a quiet actor collects (see heapCollector). */
const QUIET_GC_SLACK_BYTES = 16 * 1024 * 1024;
/** Heap above what the last collection left, past which a busy actor collects once a TIDY_GC_EVERY_MS. */
const TIDY_GC_SLACK_BYTES = 4 * 1024 * 1024;
const TIDY_GC_EVERY_MS = 60_000;
/** How often an actor compares its heap with actorHeapCollectBytes (a few µs: process.memoryUsage()). */
const PRESSURE_CHECK_MS = 100;
/** Over the memory budget, an actor collects at most this often... */
const BUDGET_GC_EVERY_MS = 250;
/** ...and only when its heap holds this much more than its last collection left (else nothing to free). */
const BUDGET_GC_SLACK_BYTES = 1024 * 1024;

/**
 * The process's memory budget as each actor applies it. Every actor's heap fills with dead objects between
 * collections, and JavaScriptCore sizes that slack from the machine's RAM, not from what the process may
 * use: at HA's full rate the connection's, batcher's and exporter's heaps together held 150–250 MB more
 * than their live objects (issue 23). Once the process's RSS is over `budgetBytes`, each actor whose heap
 * holds `slackBytes` more than its last full collection left collects (and hands the freed pages back),
 * at most once per `everyMs` — so the budget costs nothing below it, and above it a collection only where
 * there is garbage to free. It bounds garbage, not live data: what the actors hold is bounded by the
 * mailboxes, batch sizes and windows themselves.
 */
export function memoryBudget(
  budgetBytes: number,
  rss: () => number = processRss,
  slackBytes = BUDGET_GC_SLACK_BYTES,
  everyMs = BUDGET_GC_EVERY_MS,
) {
  let lookedAt = Number.NEGATIVE_INFINITY;
  return {
    /** Whether this actor collects now, given its heap footprint and what its last collection left. */
    due(now: number, footprint: number, floor: number): boolean {
      if (budgetBytes <= 0 || now - lookedAt < everyMs) return false;
      lookedAt = now;
      return footprint - floor > slackBytes && rss() > budgetBytes;
    },
  };
}

export type CollectReason = "quiet" | "tidy";

/**
 * When an actor runs a full collection of its own heap. JavaScriptCore collects the young generation as
 * a thread allocates, but the old generation only once it has grown well past what the last full
 * collection left: left alone, each actor drifts up by MBs of dead objects over an hour at a steady
 * rate, and the process's memory with them. Checked once per metrics interval, two rules:
 * - quiet: the heap is `quietSlack` above what the last collection left and grew by less than an eighth
 *   of that since the last check — a burst (an InfluxDB catch-up, a mining run, a restart's redelivery)
 *   is over and its garbage would otherwise stay until the next one. Under load the heap grows every
 *   interval, so this never fires there.
 * - tidy: the heap is `tidySlack` above the last collection's and `tidyEveryMs` have passed since it —
 *   the slow drift of a steady load. A full collection of a few tens of MB takes milliseconds, so once a
 *   minute is well under 0.1% of a core.
 */
export function heapCollector(
  quietSlack = QUIET_GC_SLACK_BYTES,
  tidySlack = TIDY_GC_SLACK_BYTES,
  tidyEveryMs = TIDY_GC_EVERY_MS,
  pressureSlack = 0,
) {
  let floor = Number.POSITIVE_INFINITY;
  let last = 0;
  let collectedAt = Number.NaN;
  return {
    due(size: number, now: number): CollectReason | null {
      const grew = size - last;
      last = size;
      if (Number.isNaN(collectedAt)) collectedAt = now;
      floor = Math.min(floor, size);
      const above = size - floor;
      if (above > quietSlack && grew < quietSlack / 8) return "quiet";
      if (above > tidySlack && now - collectedAt >= tidyEveryMs) return "tidy";
      return null;
    },
    /** True when the heap is `pressureSlack` (> 0) above what the last collection left: collect now. */
    pressed(size: number): boolean {
      return pressureSlack > 0 && size - this.floor() > pressureSlack;
    },
    floor(): number {
      return Math.min(floor, last);
    },
    collected(size: number, now: number): void {
      floor = last = size;
      collectedAt = now;
    },
  };
}
