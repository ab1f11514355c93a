import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TernionError } from '@ternion/contracts';

/** The raw addon. Each lib/ module declares the typed slice of it that it uses. */
export type NativeAddon = Record<string, unknown>;

// dist/lib/native.js when built, lib/native.ts under vitest: walk up to the folder holding binding.gyp.
function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'binding.gyp'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
    dir = parent;
  }
  return dir;
}
const packageRoot = findPackageRoot();

/** The path of the addon binary that was loaded. */
export let nativeBinaryPath = '';

function load(): NativeAddon {
  const require = createRequire(import.meta.url);
  try {
    const nodeGypBuild = require('node-gyp-build') as ((dir: string) => NativeAddon) & {
      resolve(dir: string): string;
    };
    nativeBinaryPath = nodeGypBuild.resolve(packageRoot);
    return require(nativeBinaryPath) as NativeAddon;
  } catch (cause) {
    throw new TernionError(
      'NATIVE_LOAD_FAILED',
      `@ternion/kernels-native: could not load the native addon for ${process.platform}-${process.arch} ` +
        `(Node ${process.versions.node}, N-API ${process.versions.napi}) from ${packageRoot}: ${(cause as Error).message}`,
      {
        cause,
        hint:
          'No prebuild matched and no local build was found. Build it from source with ' +
          '`npm rebuild @ternion/kernels-native` (needs python3, make and a C++17 compiler: ' +
          '`apt-get install python3 make g++` on Debian/Ubuntu, Xcode command-line tools on macOS), ' +
          'or reinstall so npm runs its install script (do not pass --ignore-scripts).',
      },
    );
  }
}

export const native: NativeAddon = load();
