/**
 * The home the API benchmark queries: 250 devices with 4 entities each (1,000 entities: light, sensor,
 * switch, binary_sensor), and state changes spread over them round-robin.
 */
import type { StateChange } from "../../../runtime/events/messages.ts";

export const API_BENCH_ENTITIES = 1000;
const DOMAINS = ["light", "sensor", "switch", "binary_sensor"] as const;
const ATTRS = DOMAINS.map((d) =>
  JSON.stringify(
    d === "sensor" ? { unit_of_measurement: "°C", device_class: "temperature" } : { friendly_name: d },
  ),
);

/** The n-th state change of the home, stamped `us` (integer microseconds). */
export function homeChange(n: number, us: number): StateChange {
  const k = n % API_BENCH_ENTITIES;
  const d = k & 3;
  return {
    entity_id: `${DOMAINS[d]}.dev_${k >> 2}`,
    state: d === 1 ? String(20 + (n % 100) / 10) : n % 2 ? "on" : "off",
    attributes: ATTRS[d],
    last_changed: us,
    last_updated: us,
    context_id: null,
    context_parent_id: null,
    context_user_id: null,
  };
}
