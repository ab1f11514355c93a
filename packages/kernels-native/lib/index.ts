export * from './attention.js';
export * from './dense.js';
export * from './formats.js';
export * from './memory.js';
export * from './ops.js';
export * from './program.js';
export * from './runtime.js';
export * from './ternary.js';
