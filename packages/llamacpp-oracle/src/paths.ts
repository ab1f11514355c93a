import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');

/** The bundled target model (committed in models/). */
export const targetModel = path.join(repoRoot, 'models', 'tinystories-bitnet-b158-target-5m-tq2_0.gguf');

/** The trained draft model lives in ../shared/models beside the repository (CI lays it there too). */
export function sharedModel(file: string): string {
  const p = path.resolve(repoRoot, '..', 'shared', 'models', file);
  if (!existsSync(p))
    throw new Error(`shared model ${p} is missing: the tests expect ../shared/models beside the repo`);
  return p;
}

export function scratchDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'ternion-oracle-'));
}
