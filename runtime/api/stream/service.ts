/** Turns the stream's query into a live-feed filter, and live items into SSE messages. */
import { splitList } from "../fields.ts";
import type { LiveFilter } from "../live.ts";
import type { StreamQuery } from "./model.ts";

/** SSE keep-alive: an idle stream sends a ping this often so proxies keep it open and dead peers show. */
export const HEARTBEAT_MS = 15000;

export function streamFilter(query: StreamQuery): LiveFilter {
  return { entityIds: new Set(splitList(query.entity)), domains: new Set(splitList(query.domain)) };
}
