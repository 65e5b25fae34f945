/**
 * One fold per entity, by the store's entity key (./fold.ts, ./health-fold.ts): a key whose entity id
 * changed (its rows were moved by a rename) starts afresh, and entities come out in key order, the order
 * a full read of the store visits them in.
 */
export class ByEntity<T extends { readonly entityId: string }> {
  private readonly entities = new Map<number, T>();

  constructor(private readonly make: (entityId: string) => T) {}

  /** Entity `e`'s fold, made when there is none or the one there is another entity's. */
  of(e: number, entityId: string): T {
    let fold = this.entities.get(e);
    if (!fold || fold.entityId !== entityId) {
      fold = this.make(entityId);
      this.entities.set(e, fold);
    }
    return fold;
  }

  /** Puts `fold` in place of entity `e`'s (it is folded again from the store). */
  replace(e: number, fold: T): void {
    this.entities.set(e, fold);
  }

  delete(e: number): void {
    this.entities.delete(e);
  }

  clear(): void {
    this.entities.clear();
  }

  /** Keeps the folds `keep` says yes to (after trimming them, say). */
  retain(keep: (fold: T) => boolean): void {
    for (const [e, fold] of this.entities) if (!keep(fold)) this.entities.delete(e);
  }

  /** The folds in the store's key order. */
  *each(): Iterable<T> {
    for (const e of [...this.entities.keys()].sort((a, b) => a - b)) yield this.entities.get(e) as T;
  }

  values(): Iterable<T> {
    return this.entities.values();
  }

  get size(): number {
    return this.entities.size;
  }
}
