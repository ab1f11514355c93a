export { type BlockHasher, hashBlockTokens, ROOT_HASH_HI, ROOT_HASH_LO } from './block-hash.js';
export { BlockPool, type BlockPoolOptions } from './block-pool.js';
export { FreeBlockQueue } from './free-block-queue.js';
export { blocksForBudget, type KvBudget, type KvDtype, type KvShape, kvBytesPerToken } from './kv-budget.js';
export { type CachedPrefix, KvCacheManager, type KvCacheManagerOptions } from './kv-cache-manager.js';
export { PrefixCacheIndex } from './prefix-cache-index.js';
