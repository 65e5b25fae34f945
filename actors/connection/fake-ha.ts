/**
 * A scripted Home Assistant over a fake WebSocket, for session tests that need frames the simulator never
 * sends (hostile ones, oversized coalesced answers, diff errors, silence). It answers every command at
 * once; `override` replaces or withholds an answer. Not a test file: a helper of the tests beside it.
 */
export const T = 1_764_080_292.123456;

export interface Command {
  id?: number;
  type: string;
  [k: string]: unknown;
}

/** A scripted HA over a fake socket: answers every command at once, its snapshot coalesced with the result. */
export class FakeHA {
  static sockets: FakeHA[] = [];
  /** Return a frame to send instead of the usual answer, null to send nothing, undefined for the usual. */
  static override: ((m: Command, ws: FakeHA) => string | null | undefined) | null = null;
  /** Every command received, in order. */
  received: Command[] = [];
  onopen: ((e: unknown) => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: unknown) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  closed = false;
  entitySub: number | null = null;
  constructor(_url: string) {
    FakeHA.sockets.push(this);
    queueMicrotask(() => {
      this.onopen?.({});
      this.deliver('{"type":"auth_required","ha_version":"2025.11.2"}');
    });
  }
  get ready(): boolean {
    return !this.closed && this.entitySub !== null;
  }
  deliver(text: string): void {
    if (!this.closed) this.onmessage?.({ data: text });
  }
  close(): void {
    this.closed = true;
  }
  send(text: string): void {
    const m = JSON.parse(text) as Command;
    this.received.push(m);
    queueMicrotask(() => {
      const instead = FakeHA.override?.(m, this);
      if (instead === null) return;
      if (instead !== undefined) return this.deliver(instead);
      const ok = (result: unknown) =>
        this.deliver(JSON.stringify({ id: m.id, type: "result", success: true, result }));
      switch (m.type) {
        case "auth":
          return this.deliver('{"type":"auth_ok","ha_version":"2025.11.2"}');
        case "subscribe_entities":
          this.entitySub = m.id as number;
          return this.deliver(
            `[{"id":${m.id},"type":"result","success":true,"result":null},{"id":${m.id},"type":"event","event":{"a":{"sensor.a":{"s":"1","a":{},"lc":${T}}}}}]`,
          );
        case "get_config":
          return ok({});
        case "ping":
          return this.deliver(`{"id":${m.id},"type":"pong"}`);
        case "config/area_registry/list":
        case "config/device_registry/list":
        case "config/entity_registry/list":
          return ok([]);
        case "history/history_during_period":
          return ok({});
        default:
          return ok(null);
      }
    });
  }
}
