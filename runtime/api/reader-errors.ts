/**
 * The readers validate what the schema cannot (a cursor they did not issue); their complaint becomes a
 * 400 (on `query.cursor` when it names the cursor) rather than a 500.
 */
import { ApiError } from "./errors.ts";

export function readerCall<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    if (/cursor/i.test(error.message))
      throw new ApiError(400, "invalid query.cursor: not a cursor this API returned", {
        field: "query.cursor",
        expected: "the nextCursor value of a previous page, unchanged",
      });
    // The metadata reader names its input errors MetadataQueryError (limit out of range and the like).
    if (error.name.endsWith("QueryError")) throw new ApiError(400, error.message);
    throw error;
  }
}
