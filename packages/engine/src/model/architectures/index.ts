import type { ArchitectureSpec } from './architecture.js';
import { bitnet } from './bitnet.js';
import { bitnetB158 } from './bitnet-b158.js';

export type { ArchitectureSpec, LayerTensor } from './architecture.js';

export const architectures: readonly ArchitectureSpec[] = [bitnet, bitnetB158];

/** The spec for a GGUF `general.architecture` value, or undefined. */
export function architectureFor(ggufName: string): ArchitectureSpec | undefined {
  return architectures.find((a) => a.ggufNames.includes(ggufName));
}
