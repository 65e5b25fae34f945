/** A request to Home Assistant that failed: HA's error code, or ours (`disconnected`, `too_large`). */
export class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** For `disconnected`: the WebSocket close code when the peer closed, null when we closed it. */
    readonly closeCode: number | null = null,
  ) {
    super(message);
  }
}
