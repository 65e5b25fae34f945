/** Registry reads without Elysia's Context: map the query to the metadata reader and its errors to 4xx. */

import type { MetadataReader } from "../deps.ts";

type DeviceQuery = Parameters<MetadataReader["devices"]>[0];
type EntityQuery = Parameters<MetadataReader["entities"]>[0];

import { ApiError } from "../errors.ts";
import { readerCall } from "../reader-errors.ts";

export function listDevices(reader: MetadataReader, query: DeviceQuery) {
  return readerCall(() => reader.devices(query));
}

export function listEntities(reader: MetadataReader, query: EntityQuery) {
  return readerCall(() => reader.entities(query));
}

export function getEntity(reader: MetadataReader, entityId: string) {
  const entity = readerCall(() => reader.entity(entityId));
  if (!entity)
    throw new ApiError(404, `entity ${entityId} is not known`, {
      field: "params.entity_id",
      expected: "an entity id listed by /api/v1/entities",
    });
  return entity;
}

export function listAreas(reader: MetadataReader) {
  const items = readerCall(() => reader.areas());
  return { items, total: items.length };
}
