/**
 * The enricher actor: one module, spawned once per configured source with the source's name as its child
 * spec argument (`args: ["weather"]`), like OTP's `{M, F, A}`. Its actor name stays `enricher-<source>`.
 */
import { childArgs } from "../../runtime/kernel/child-args.ts";
import { messageChecker } from "../../runtime/kernel/schema.ts";
import { enricherActor, enricherSchemas } from "./messages.ts";
import { runEnricher } from "./run.ts";
import { sourceNamed } from "./sources/index.ts";

const source = sourceNamed(childArgs()[0]);
runEnricher(source, messageChecker(enricherActor(source.name), enricherSchemas));
