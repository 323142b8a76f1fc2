import { CacheStrategy } from '../src/index.js';
import { memoryBackend, redisBackend } from './backends.js';
import { describeCacheConformance } from './conformance.js';

describeCacheConformance('memory only + in-process bus', memoryBackend());
describeCacheConformance('redis only (json)', redisBackend(CacheStrategy.REDIS_ONLY));
describeCacheConformance('memory first (json)', redisBackend(CacheStrategy.MEMORY_FIRST));
describeCacheConformance('memory first (msgpack)', redisBackend(CacheStrategy.MEMORY_FIRST, 'msgpack'));
describeCacheConformance('redis first (json)', redisBackend(CacheStrategy.REDIS_FIRST));
describeCacheConformance('redis first (msgpack)', redisBackend(CacheStrategy.REDIS_FIRST, 'msgpack'));
