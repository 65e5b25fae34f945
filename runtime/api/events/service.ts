/** Stored-event reads without Elysia's Context: defaults, range checks, then the store reader. */
import type { EventsQuery, Resolution, StoreReader } from "../deps.ts";
import { ApiError } from "../errors.ts";
import { splitList } from "../fields.ts";
import { readerCall } from "../reader-errors.ts";
import { DEFAULT_HISTORY_MS } from "./model.ts";

function checkRange(from: number | undefined, to: number | undefined): void {
  if (from !== undefined && to !== undefined && from >= to)
    throw new ApiError(400, `invalid query.from: ${from} is not before query.to ${to}`, {
      field: "query.from",
      expected: "a time before query.to",
    });
}

export function listEvents(
  store: StoreReader,
  query: { from?: number; to?: number; entity_id?: string; domain?: string; cursor?: string; limit: number },
) {
  checkRange(query.from, query.to);
  const q: EventsQuery = { limit: query.limit };
  if (query.from !== undefined) q.from = query.from;
  if (query.to !== undefined) q.to = query.to;
  if (query.entity_id) q.entityIds = splitList(query.entity_id);
  if (query.domain) q.domain = query.domain;
  if (query.cursor) q.cursor = query.cursor;
  return readerCall(() => store.events(q));
}

/**
 * At most `pageMax` points; past it `truncated` is true and `nextFrom` is the `from` to ask for the rest
 * (the page ends on a millisecond boundary, so nothing is lost or repeated).
 */
export function entityHistory(
  store: StoreReader,
  entityId: string,
  query: { from?: number; to?: number; resolution?: Resolution },
  now: number,
  pageMax: number,
) {
  const to = query.to ?? now;
  const from = query.from ?? Math.max(0, to - DEFAULT_HISTORY_MS);
  checkRange(from, to);
  const resolution = query.resolution ?? "auto";
  const { tier, points, nextFrom } = readerCall(() =>
    store.history(entityId, { from, to, resolution, limit: pageMax }),
  );
  return { entity_id: entityId, from, to, resolution, tier, points, truncated: nextFrom !== null, nextFrom };
}
