import { runEnricher } from "../enrichers/run.ts";
import { pricesSource } from "./logic.ts";
import { check } from "./messages.ts";

runEnricher(pricesSource, check);
