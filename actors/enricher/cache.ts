/**
 * A TTL cache with an LRU bound, for API responses. Entries past their TTL are not dropped: they are
 * served as stale (stale-while-revalidate) until a refresh replaces them or the LRU bound evicts them.
 *
 * Invariants: `size <= maxEntries` after every operation; `get` and `set` make a key the most recently used;
 * eviction removes the least recently used key first. Time is passed in, never read from a clock.
 *
 * @example
 * const cache = new TtlLruCache<string, number>({ ttlMs: 300_000, maxEntries: 1000 });
 * cache.set("52.52,13.41", 21.5, now);
 * cache.get("52.52,13.41", now + 400_000); // { value: 21.5, storedAt: now, ageMs: 400000, fresh: false }
 */

export interface CacheHit<V> {
  value: V;
  storedAt: number;
  ageMs: number;
  /** False once the entry is older than the TTL: serve it marked stale and refresh it. */
  fresh: boolean;
}

export interface TtlLruCacheOptions {
  ttlMs: number;
  maxEntries: number;
}

export class TtlLruCache<K, V> {
  readonly ttlMs: number;
  readonly maxEntries: number;
  /** Map iteration order is insertion order: the first key is the least recently used. */
  private readonly entries = new Map<K, { value: V; storedAt: number }>();
  evictions = 0;

  constructor(opts: TtlLruCacheOptions) {
    if (!(opts.maxEntries >= 1))
      throw new Error(`cache maxEntries must be at least 1, got ${opts.maxEntries}`);
    this.ttlMs = opts.ttlMs;
    this.maxEntries = opts.maxEntries;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Looks a key up and marks it most recently used. */
  get(key: K, now: number): CacheHit<V> | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return this.hit(entry, now);
  }

  /** Looks a key up without changing its recency (for status views). */
  peek(key: K, now: number): CacheHit<V> | undefined {
    const entry = this.entries.get(key);
    return entry ? this.hit(entry, now) : undefined;
  }

  set(key: K, value: V, now: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, storedAt: now });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as K;
      this.entries.delete(oldest);
      this.evictions++;
    }
  }

  /** Keys from least to most recently used. */
  keys(): K[] {
    return [...this.entries.keys()];
  }

  private hit(entry: { value: V; storedAt: number }, now: number): CacheHit<V> {
    const ageMs = Math.max(0, now - entry.storedAt);
    return { value: entry.value, storedAt: entry.storedAt, ageMs, fresh: ageMs < this.ttlMs };
  }
}
