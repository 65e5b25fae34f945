/**
 * Values keyed by (entity, state) through nested maps: the detectors look one up per event, and an
 * `entity\0state` key string built per lookup was millions of strings over a busy month.
 *
 * @example
 * const lists = new ByEntityState<number[]>();
 * if (!lists.get("light.hall", "on")) lists.set("light.hall", "on", []);
 */
export class ByEntityState<T> {
  private readonly byEntity = new Map<string, Map<string, T>>();

  get(entityId: string, state: string): T | undefined {
    return this.byEntity.get(entityId)?.get(state);
  }

  set(entityId: string, state: string, value: T): void {
    let byState = this.byEntity.get(entityId);
    if (!byState) {
      byState = new Map();
      this.byEntity.set(entityId, byState);
    }
    byState.set(state, value);
  }
}
