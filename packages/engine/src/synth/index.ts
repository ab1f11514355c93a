export { MODEL_SHAPES, type ModelShape } from './shapes.js';
export { type SynthesizeOptions, synthesizeModel } from './synthesize.js';
