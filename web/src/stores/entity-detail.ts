/** The entity detail view's entity: registry entry plus current state and attributes, loaded by id. */
import { atom } from "nanostores";
import { ApiError, api } from "../api.ts";
import { type EntityView, toEntityView, withLatest } from "../entity-view.ts";
import { $token } from "./token.ts";

export interface EntityDetailState {
  entityId: string | null;
  status: "idle" | "loading" | "ready" | "not_found" | "error";
  entity: EntityView | null;
  error: string | null;
}

export const $entityDetail = atom<EntityDetailState>({
  entityId: null,
  status: "idle",
  entity: null,
  error: null,
});

export async function loadEntity(entityId: string): Promise<void> {
  const token = $token.get().token;
  if (!token) return;
  const keep = $entityDetail.get().entityId === entityId ? $entityDetail.get().entity : null;
  $entityDetail.set({ entityId, status: keep ? "ready" : "loading", entity: keep, error: null });
  try {
    // The registry knows names, areas and devices; the newest stored event knows the state.
    const [raw, latest] = await Promise.all([
      api.entity(token, entityId),
      api.latestEvent(token, entityId).catch(() => null),
    ]);
    if ($entityDetail.get().entityId !== entityId) return;
    const view = toEntityView(raw);
    const entity = view ? withLatest(view, latest) : null;
    $entityDetail.set({ entityId, status: entity ? "ready" : "not_found", entity, error: null });
  } catch (error) {
    if ($entityDetail.get().entityId !== entityId) return;
    const notFound = error instanceof ApiError && error.status === 404;
    $entityDetail.set({
      entityId,
      status: notFound ? "not_found" : "error",
      entity: null,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}
