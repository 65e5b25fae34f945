/**
 * The readers validate what the schema cannot (a cursor they did not issue); their complaint names the
 * cursor, and becomes a 400 on `query.cursor` rather than a 500.
 */
import { ApiError } from "./errors.ts";

export function readerCall<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof Error && /cursor/i.test(error.message))
      throw new ApiError(400, "invalid query.cursor: not a cursor this API returned", {
        field: "query.cursor",
        expected: "the nextCursor value of a previous page, unchanged",
      });
    throw error;
  }
}
