import { runEnricher } from "../enrichers/run.ts";
import { carbonSource } from "./logic.ts";
import { check } from "./messages.ts";

runEnricher(carbonSource, check);
