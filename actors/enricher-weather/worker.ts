import { runEnricher } from "../enrichers/run.ts";
import { weatherSource } from "./logic.ts";
import { check } from "./messages.ts";

runEnricher(weatherSource, check);
