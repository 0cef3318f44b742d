import { LRUCache } from 'lru-cache';
import { ZERO_UUID } from '../../protocol/codec.js';

/**
 * Topic id → name, shared by all connections (the Metadata response that names a topic often arrives on
 * another connection than the request that uses its id). Bounded so a cluster with many topics, or churn,
 * cannot grow it without limit.
 */
export class TopicIdMap {
  private readonly cache: LRUCache<string, string>;
  constructor(max = 100_000) { this.cache = new LRUCache({ max }); }
  set(id: string, name: string): void { if (id !== ZERO_UUID) this.cache.set(id, name); }
  get(id: string): string | undefined { return this.cache.get(id); }
  get size(): number { return this.cache.size; }
}
