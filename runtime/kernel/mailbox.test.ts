import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Inbox, Outbox, type PortLike } from "./mailbox.ts";
import {
  CREDIT_WAITS,
  createActorSlot,
  createEdgeSlot,
  OLDEST_AT,
  OUTSTANDING,
  PROCESSED,
} from "./progress.ts";

/** A MessageChannel stand-in whose deliveries the test performs one at a time, in FIFO order per port. */
class FakeChannel {
  readonly toReceiver: unknown[] = [];
  readonly toSender: unknown[] = [];
  readonly sender: PortLike;
  readonly receiver: PortLike;
  constructor() {
    this.sender = { postMessage: (m) => this.toReceiver.push(m), onmessage: null };
    this.receiver = { postMessage: (m) => this.toSender.push(m), onmessage: null };
  }
  deliverToReceiver(): boolean {
    const m = this.toReceiver.shift();
    if (m === undefined) return false;
    this.receiver.onmessage?.({ data: m } as MessageEvent);
    return true;
  }
  deliverToSender(): boolean {
    const m = this.toSender.shift();
    if (m === undefined) return false;
    this.sender.onmessage?.({ data: m } as MessageEvent);
    return true;
  }
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

type Command =
  | { kind: "send"; count: number }
  | { kind: "deliver" }
  | { kind: "ack" }
  | { kind: "complete" }
  | { kind: "crash" };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.integer({ min: 1, max: 3 }).map((count) => ({ kind: "send", count }) as Command),
  },
  { weight: 4, arbitrary: fc.constant({ kind: "deliver" } as Command) },
  { weight: 3, arbitrary: fc.constant({ kind: "ack" } as Command) },
  { weight: 3, arbitrary: fc.constant({ kind: "complete" } as Command) },
  { weight: 1, arbitrary: fc.constant({ kind: "crash" } as Command) },
);

/** Drives one sender and one (crashable) receiver through a command sequence and reports what happened. */
async function simulate(capacity: number, retain: boolean, commands: Command[], batched = false) {
  let channel = new FakeChannel();
  const outbox = new Outbox<number>(channel.sender, { edge: "a->b", capacity, retain });
  const poisoned: number[] = [];
  outbox.onPoison = (m) => poisoned.push(m);
  const sent: number[] = [];
  const completed: number[] = [];
  /** Ids posted and not acknowledged when a receiver crashed (queued, in its handler, or in transit). */
  const lostAtCrash = new Set<number>();
  let pending: { id: number; resolve: () => void }[] = [];
  let maxDepth = 0;
  let nextId = 1;
  let generation = 0;

  const makeInbox = () => {
    const gen = ++generation;
    const inbox = new Inbox({
      actor: "b",
      handle: ({ message }) =>
        new Promise<void>((resolve) => {
          pending.push({
            id: message as number,
            resolve: () => {
              if (gen === generation) completed.push(message as number);
              resolve();
            },
          });
        }),
      onError: () => {},
    });
    if (batched)
      // The batch handler completes all the messages it took at once.
      inbox.batchWith(
        (deliveries) =>
          new Promise<void>((resolve) => {
            pending.push({
              id: deliveries[0].message as number,
              resolve: () => {
                if (gen === generation) for (const d of deliveries) completed.push(d.message as number);
                resolve();
              },
            });
          }),
        4,
      );
    inbox.attach("a->b", channel.receiver, capacity);
    return inbox;
  };
  let inbox = makeInbox();

  for (const c of commands) {
    switch (c.kind) {
      case "send":
        for (let i = 0; i < c.count; i++) {
          const id = nextId++;
          sent.push(id);
          void outbox.send(id);
        }
        break;
      case "deliver":
        channel.deliverToReceiver();
        break;
      case "ack":
        channel.deliverToSender();
        break;
      case "complete":
        pending.shift()?.resolve();
        break;
      case "crash": {
        // Whatever was posted and not acknowledged dies with the receiver: queued, in its handler, or in transit.
        const posted = outbox.acknowledged + outbox.outstanding;
        for (let id = outbox.acknowledged + 1; id <= posted; id++) lostAtCrash.add(id);
        pending = [];
        channel = new FakeChannel();
        inbox = makeInbox();
        outbox.rewire(channel.sender);
        break;
      }
    }
    await flush();
    maxDepth = Math.max(maxDepth, inbox.depth + pending.length);
  }
  // Let everything settle: a live receiver that keeps working eventually handles all that was sent.
  for (let guard = 0; guard < 100000; guard++) {
    const moved = channel.deliverToReceiver() || channel.deliverToSender();
    const p = pending.shift();
    p?.resolve();
    await flush();
    if (
      !moved &&
      !p &&
      pending.length === 0 &&
      channel.toReceiver.length === 0 &&
      channel.toSender.length === 0
    )
      break;
  }
  return { sent, completed, lostAtCrash, poisoned, maxDepth };
}

/** What a retaining edge promises across receiver crashes, whatever the interleaving. */
function expectRetainedGuarantees({
  sent,
  completed,
  lostAtCrash,
  poisoned,
}: Awaited<ReturnType<typeof simulate>>) {
  const done = new Set(completed);
  // Nothing lost: every sent message was handled, except any set aside as poison (reported, not silent).
  for (const id of sent) if (!poisoned.includes(id)) expect(done.has(id)).toBe(true);
  for (const id of poisoned) expect(lostAtCrash.has(id)).toBe(true);
  // Duplicates only for messages a crashed receiver had taken and not acknowledged.
  const seen = new Set<number>();
  for (const id of completed) {
    if (seen.has(id)) expect(lostAtCrash.has(id)).toBe(true);
    seen.add(id);
  }
  // Per-sender order: first handlings come in send order.
  const firsts = completed.filter((id, i) => completed.indexOf(id) === i);
  expect(firsts).toEqual([...firsts].sort((a, b) => a - b));
}

describe("mailbox", () => {
  test("a receiver never holds more than its capacity, whatever the interleaving", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(command, { maxLength: 120 }),
        async (capacity, cmds) => {
          const { maxDepth } = await simulate(capacity, true, cmds);
          expect(maxDepth).toBeLessThanOrEqual(capacity);
        },
      ),
      { numRuns: 500 },
    );
  });

  test("retaining edges lose nothing across receiver crashes; duplicates only among what the crashed receiver had taken", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(command, { maxLength: 120 }),
        async (capacity, cmds) => {
          expectRetainedGuarantees(await simulate(capacity, true, cmds));
        },
      ),
      { numRuns: 500 },
    );
  });

  test("batched handling (batchWith) keeps the same guarantees: bounded, nothing lost, duplicates only from crashes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(command, { maxLength: 120 }),
        async (capacity, cmds) => {
          const result = await simulate(capacity, true, cmds, true);
          expect(result.maxDepth).toBeLessThanOrEqual(capacity);
          expectRetainedGuarantees(result);
        },
      ),
      { numRuns: 500 },
    );
  });

  test("non-retaining edges lose only what the crashed receiver had taken or had in transit, and never duplicate", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(command, { maxLength: 120 }),
        async (capacity, cmds) => {
          const { sent, completed, lostAtCrash } = await simulate(capacity, false, cmds);
          expect(new Set(completed).size).toBe(completed.length);
          const done = new Set(completed);
          for (const id of sent) if (!done.has(id)) expect(lostAtCrash.has(id)).toBe(true);
          expect(completed).toEqual([...completed].sort((a, b) => a - b));
        },
      ),
      { numRuns: 500 },
    );
  });

  test("send waits for credit and resolves once the receiver acknowledges", async () => {
    const channel = new FakeChannel();
    const outbox = new Outbox<number>(channel.sender, { edge: "a->b", capacity: 2, retain: false });
    const order: string[] = [];
    void outbox.send(1).then(() => order.push("1 posted"));
    void outbox.send(2).then(() => order.push("2 posted"));
    void outbox.send(3).then(() => order.push("3 posted"));
    await flush();
    expect(order).toEqual(["1 posted", "2 posted"]);
    expect(outbox.trySend(4)).toBe(false);
    const handled: number[] = [];
    const inbox = new Inbox({
      actor: "b",
      handle: ({ message }) => void handled.push(message as number),
      onError: () => {},
    });
    inbox.attach("a->b", channel.receiver, 2);
    channel.deliverToReceiver();
    channel.deliverToReceiver();
    await flush();
    channel.deliverToSender();
    await flush();
    expect(order).toEqual(["1 posted", "2 posted", "3 posted"]);
    expect(handled).toEqual([1, 2]);
  });

  test("setting a poison message aside lets a waiting sender through once, not twice", async () => {
    // Found by the interleaving property: capacity 1, a waiting send, then the third crash.
    const cmds: Command[] = [
      { kind: "send", count: 1 },
      { kind: "crash" },
      { kind: "send", count: 1 },
      { kind: "crash" },
      { kind: "crash" },
    ];
    const { completed, poisoned } = await simulate(1, true, cmds);
    expect(poisoned).toEqual([1]);
    expect(completed).toEqual([2]);
  });

  test("a message that crashes its receiver on every redelivery is set aside and reported", async () => {
    let channel = new FakeChannel();
    const outbox = new Outbox<number>(channel.sender, { edge: "a->b", capacity: 4, retain: true });
    const poisoned: number[] = [];
    outbox.onPoison = (m) => poisoned.push(m);
    void outbox.send(7);
    for (let i = 0; i < 3; i++) {
      channel = new FakeChannel();
      outbox.rewire(channel.sender);
    }
    expect(poisoned).toEqual([7]);
    expect(outbox.outstanding).toBe(0);
  });

  test("a watched edge shows what waits on it and since when; a re-sent message keeps its first stamp", async () => {
    let now = 1000;
    let channel = new FakeChannel();
    const edge = createEdgeSlot();
    const sender = createActorSlot();
    const words = new Int32Array(edge);
    const outbox = new Outbox<number>(channel.sender, {
      edge: "a->b",
      capacity: 2,
      retain: true,
      watch: { edge, actor: sender, now: () => now },
    });
    const seen = () => [Atomics.load(words, OUTSTANDING), Atomics.load(words, OLDEST_AT)];
    expect(seen()).toEqual([0, 0]);
    void outbox.send(1);
    now = 1100;
    void outbox.send(2);
    expect(seen()).toEqual([2, 1000]);
    // No credit: the third send waits, and the sending actor shows as held up, not stuck.
    now = 1200;
    void outbox.send(3);
    expect(Atomics.load(new Int32Array(sender), CREDIT_WAITS)).toBe(1);
    // The receiver is restarted: everything unacknowledged is re-sent with the age it already had.
    channel = new FakeChannel();
    outbox.rewire(channel.sender);
    expect(seen()).toEqual([2, 1000]);
    const progress = createActorSlot();
    const inbox = new Inbox({ actor: "b", handle: () => {}, onError: () => {}, progress });
    inbox.attach("a->b", channel.receiver, 2);
    channel.deliverToReceiver();
    channel.deliverToReceiver();
    await flush();
    expect(Atomics.load(new Int32Array(progress), PROCESSED)).toBe(2);
    while (channel.deliverToSender()) {}
    await flush();
    // 1 and 2 acknowledged; 3 took the credit and is the oldest now, stamped when it was posted.
    expect(seen()).toEqual([1, 1200]);
    expect(Atomics.load(new Int32Array(sender), CREDIT_WAITS)).toBe(0);
    channel.deliverToReceiver();
    await flush();
    channel.deliverToSender();
    expect(seen()[0]).toBe(0);
  });

  test("what a receiver has handled is acknowledged before its next handler runs, so a handler that never returns leaves only its own message to re-send", async () => {
    const channel = new FakeChannel();
    const outbox = new Outbox<number>(channel.sender, { edge: "a->b", capacity: 8, retain: true });
    for (let id = 1; id <= 4; id++) void outbox.send(id);
    const inbox = new Inbox({
      actor: "b",
      // 3 never returns (a loop the supervisor ends from outside).
      handle: ({ message }) => (message === 3 ? new Promise<void>(() => {}) : undefined),
      onError: () => {},
    });
    inbox.attach("a->b", channel.receiver, 8);
    for (let i = 0; i < 4; i++) channel.deliverToReceiver();
    await flush();
    while (channel.deliverToSender()) {}
    expect(outbox.acknowledged).toBe(2);
  });
});
