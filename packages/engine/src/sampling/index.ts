export * from './options.js';
export { Rng } from './rng.js';
export { argmax, Sampler } from './sampler.js';
