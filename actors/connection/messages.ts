/**
 * The connection actor's inbound messages: none. It is a pure producer; its input is Home Assistant's
 * WebSocket, and it is steered only by config (and stopped by the supervisor).
 */
import { messageChecker } from "../../runtime/kernel/schema.ts";

export const connectionSchemas = {};

export const check = messageChecker("connection", connectionSchemas);
