/**
 * Pure mapping from HA registry rows (as `config/*_registry/list` returns them) to our table rows. A row
 * that lacks its key is skipped with a precise reason instead of failing the whole list.
 */

export interface AreaRow {
  area_id: string;
  name: string;
  raw: string;
}
export interface DeviceRow {
  id: string;
  name: string;
  area_id: string | null;
  manufacturer: string | null;
  model: string | null;
  raw: string;
}
export interface EntityRow {
  entity_id: string;
  registry_id: string | null;
  name: string | null;
  domain: string;
  device_id: string | null;
  area_id: string | null;
  platform: string | null;
  disabled: number;
  raw: string;
}

const str = (v: unknown): string | null => (typeof v === "string" && v.length > 0 ? v : null);

export type Mapped<R> = { rows: R[]; skipped: string[] };

export function mapAreas(items: Record<string, unknown>[]): Mapped<AreaRow> {
  const rows: AreaRow[] = [];
  const skipped: string[] = [];
  for (const [i, a] of items.entries()) {
    const id = str(a.area_id);
    if (!id) {
      skipped.push(`area_registry row ${i}: missing area_id`);
      continue;
    }
    rows.push({ area_id: id, name: str(a.name) ?? id, raw: JSON.stringify(a) });
  }
  return { rows, skipped };
}

export function mapDevices(items: Record<string, unknown>[]): Mapped<DeviceRow> {
  const rows: DeviceRow[] = [];
  const skipped: string[] = [];
  for (const [i, d] of items.entries()) {
    const id = str(d.id);
    if (!id) {
      skipped.push(`device_registry row ${i}: missing id`);
      continue;
    }
    rows.push({
      id,
      name: str(d.name_by_user) ?? str(d.name) ?? id,
      area_id: str(d.area_id),
      manufacturer: str(d.manufacturer),
      model: str(d.model),
      raw: JSON.stringify(d),
    });
  }
  return { rows, skipped };
}

export function mapEntities(items: Record<string, unknown>[]): Mapped<EntityRow> {
  const rows: EntityRow[] = [];
  const skipped: string[] = [];
  for (const [i, e] of items.entries()) {
    const id = str(e.entity_id);
    const dot = id === null ? -1 : id.indexOf(".");
    if (id === null || dot < 1) {
      skipped.push(`entity_registry row ${i}: entity_id must be "domain.object_id"`);
      continue;
    }
    rows.push({
      entity_id: id,
      registry_id: str(e.id),
      name: str(e.name) ?? str(e.original_name),
      domain: id.slice(0, dot),
      device_id: str(e.device_id),
      area_id: str(e.area_id),
      platform: str(e.platform),
      disabled: e.disabled_by ? 1 : 0,
      raw: JSON.stringify(e),
    });
  }
  return { rows, skipped };
}
