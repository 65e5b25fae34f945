/** Inbound messages of enricher-air-quality: the set every enricher takes (see actors/enrichers/messages.ts). */
import { messageChecker } from "../../runtime/kernel/schema.ts";
import { enricherSchemas } from "../enrichers/messages.ts";

export const check = messageChecker("enricher-air-quality", enricherSchemas);
