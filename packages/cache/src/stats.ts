import type { NamespaceStats } from './options.js';

/** Lookups, hits per tier, writes and deletes of one namespace. */
export class Counters {
  hits = 0;
  misses = 0;
  memoryHits = 0;
  memoryMisses = 0;
  redisHits = 0;
  redisMisses = 0;
  sets = 0;
  deletes = 0;
}

function ratio(hits: number, misses: number): number {
  return hits + misses === 0 ? 0 : hits / (hits + misses);
}

/** The counters as `stats()` shows them, with hit ratios. */
export function statsView(c: Counters): NamespaceStats {
  return {
    hits: c.hits,
    misses: c.misses,
    hitRatio: ratio(c.hits, c.misses),
    memory: { hits: c.memoryHits, misses: c.memoryMisses, hitRatio: ratio(c.memoryHits, c.memoryMisses) },
    redis: { hits: c.redisHits, misses: c.redisMisses, hitRatio: ratio(c.redisHits, c.redisMisses) },
    sets: c.sets,
    deletes: c.deletes,
  };
}
