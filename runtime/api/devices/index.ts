/**
 * `GET /api/v1/devices`, `/api/v1/entities` (filter by domain, area, device, text; cursor pagination),
 * `/api/v1/entities/:entity_id` and `/api/v1/areas`, read from the metadata store's own read connection.
 */

import { Elysia } from "elysia";
import type { ApiDeps } from "../deps.ts";
import { knownQuery } from "../fields.ts";
import { DEFAULT_PAGE, deviceModels } from "./model.ts";
import { getEntity, listAreas, listDevices, listEntities } from "./service.ts";

export function devices(deps: Pick<ApiDeps, "metadata" | "config">) {
  const { DevicesQuery, EntitiesQuery, EntityParams } = deviceModels(deps.config.api.pageMax);
  const limit = (l: number | undefined) => l ?? Math.min(DEFAULT_PAGE, deps.config.api.pageMax);
  return new Elysia({ detail: { tags: ["registry"] } })
    .get(
      "/api/v1/devices",
      ({ query }) => listDevices(deps.metadata, { ...query, limit: limit(query.limit) }),
      {
        query: DevicesQuery,
        beforeHandle: knownQuery(DevicesQuery),
        detail: { summary: "Devices, filtered by area or text; cursor pagination" },
      },
    )
    .get(
      "/api/v1/entities",
      ({ query }) => listEntities(deps.metadata, { ...query, limit: limit(query.limit) }),
      {
        query: EntitiesQuery,
        beforeHandle: knownQuery(EntitiesQuery),
        detail: { summary: "Entities, filtered by domain, area, device or text; cursor pagination" },
      },
    )
    .get("/api/v1/entities/:entity_id", ({ params }) => getEntity(deps.metadata, params.entity_id), {
      params: EntityParams,
      detail: { summary: "One entity with its device and area" },
    })
    .get("/api/v1/areas", () => listAreas(deps.metadata), { detail: { summary: "Areas" } });
}
