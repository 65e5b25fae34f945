/** A request to Home Assistant that failed: HA's error code, or ours (`disconnected`, `too_large`). */
export class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
