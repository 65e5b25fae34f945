/**
 * Home Assistant automation objects and their YAML. We emit the current syntax (HA 2024.10+):
 * `triggers:` items keyed by `trigger:`, `conditions:`, `actions:` items keyed by `action:` with a `target`.
 * The `yaml` package serialises; `validateAutomation` checks the structure HA's automation schema requires.
 */
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import { actionFor } from "./entities.ts";
import type { Automation } from "./types.ts";

/** The action step that puts an entity into a state. */
export function actionStep(entityId: string, state: string): Record<string, unknown> {
  const found = actionFor(entityId, state);
  if (!found) throw new Error(`no Home Assistant action puts ${entityId} into state "${state}"`);
  const step: Record<string, unknown> = { action: found.action, target: { entity_id: entityId } };
  if (found.data) step.data = { ...found.data };
  return step;
}

/**
 * YAML as HA writes automations.yaml: a list with one automation carrying a stable `id`. Written as YAML
 * 1.1, the dialect Home Assistant's loader (PyYAML) reads: `"on"`, `"off"` and times like `"17:30:00"`
 * are quoted, which 1.1 would otherwise read as a boolean and a base-60 number.
 */
export function automationYaml(id: string, automation: Automation): string {
  return stringify([{ id, ...automation }], { lineWidth: 0, version: "1.1" });
}

/** First 16 hex digits of sha256 over the parts; the same parts always give the same id. */
export function stableId(...parts: (string | number)[]): string {
  return createHash("sha256").update(parts.join("\u001f")).digest("hex").slice(0, 16);
}

/** "00:15:00" for 15 minutes. */
export function duration(ms: number): string {
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return [h, m, s].map((n) => String(n).padStart(2, "0")).join(":");
}
