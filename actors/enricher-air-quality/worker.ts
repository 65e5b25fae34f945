import { runEnricher } from "../enrichers/run.ts";
import { airQualitySource } from "./logic.ts";
import { check } from "./messages.ts";

runEnricher(airQualitySource, check);
