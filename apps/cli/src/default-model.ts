import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEFAULT_MODEL_FILE = 'tinystories-bitnet-b158-target-5m-tq2_0.gguf';

/**
 * The bundled model: `models/` of the repository (or of the installed package), found by walking up from
 * this file, so `ternion run "..."` works offline on a fresh clone with no flags.
 */
export function defaultModelPath(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'models', DEFAULT_MODEL_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
