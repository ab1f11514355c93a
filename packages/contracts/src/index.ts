export * from './errors.js';
export * from './forward-batch.js';
export * from './ids.js';
export * from './kv-cache.js';
export * from './model-config.js';
export * from './token-predictor.js';
