/**
 * Main-thread glue that gets the home's location to the enrichers: the connection actor announces HA's
 * get_config as the notice `ha-config` ({latitude, longitude, ...}); this forwards it to every running
 * enricher with `supervisor.call`, and answers an enricher's `needs-location` notice (sent when it starts,
 * e.g. after a restart) with the last location seen. A config override (enrichers.latitude/longitude)
 * wins inside the enricher, so forwarding is harmless then.
 */
import { errorMessage, type Logger } from "../../runtime/kernel/log.ts";
import { enricherMessage, HA_CONFIG, NEEDS_LOCATION } from "./messages.ts";
import type { Location } from "./source.ts";

export interface NoticeSource {
  onNotice(listener: (actor: string, name: string, data: unknown) => void): void;
  call(actor: string, body: unknown): Promise<unknown>;
  status(): { name: string; state: string }[];
}

/** Reads latitude/longitude from HA's get_config result; undefined when absent or out of range. */
export function locationFromHaConfig(data: unknown): Location | undefined {
  const d = data as { latitude?: unknown; longitude?: unknown } | null;
  const lat = d?.latitude;
  const lon = d?.longitude;
  if (typeof lat !== "number" || typeof lon !== "number") return undefined;
  if (!(Math.abs(lat) <= 90 && Math.abs(lon) <= 180)) return undefined;
  return { latitude: lat, longitude: lon };
}

/** Registers the forwarding; call once, before `supervisor.start()`. */
export function forwardHaLocation(supervisor: NoticeSource, log: Logger): void {
  let last: Location | undefined;
  const send = (actor: string) => {
    if (!last) return;
    supervisor.call(actor, enricherMessage.location(last.latitude, last.longitude)).catch((error) =>
      log.debug("location not forwarded; the enricher asks again when it starts", {
        target: actor,
        error: errorMessage(error),
      }),
    );
  };
  supervisor.onNotice((actor, name, data) => {
    if (name === HA_CONFIG) {
      const location = locationFromHaConfig(data);
      if (!location) {
        log.warn(
          "Home Assistant's config has no usable latitude/longitude; enrichers that need a location wait. Fix: set the home location in HA, or HOMEIQ_ENRICHERS_LATITUDE/LONGITUDE",
          { from: actor },
        );
        return;
      }
      last = location;
      for (const child of supervisor.status())
        if (child.name.startsWith("enricher-") && child.state === "running") send(child.name);
    } else if (name === NEEDS_LOCATION && actor.startsWith("enricher-")) send(actor);
  });
}
