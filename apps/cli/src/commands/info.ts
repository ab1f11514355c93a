import { type GgufValue, openGguf } from '@ternion/engine';
import type { Command } from 'commander';
import { resolveModelPath } from '../load.js';

function show(v: GgufValue): string {
  if (v.type === 'array') {
    const arr = v.value as ArrayLike<unknown>;
    const head = Array.from({ length: Math.min(arr.length, 8) }, (_, i) => JSON.stringify(String(arr[i])));
    return `[${v.elementType} × ${arr.length}] ${head.join(', ')}${arr.length > 8 ? ', …' : ''}`;
  }
  const s = typeof v.value === 'string' ? JSON.stringify(v.value) : String(v.value);
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('print a model file’s metadata and tensor table')
    .argument('[model]', 'GGUF file (default: the bundled model)')
    .option('--json', 'machine-readable output')
    .action((modelArg: string | undefined, flags: { json?: boolean }) => {
      const file = openGguf(resolveModelPath(modelArg));
      const tensors = [...file.tensors.values()];
      if (flags.json) {
        const metadata = Object.fromEntries(
          [...file.metadata].map(([k, v]) => [
            k,
            v.type === 'array'
              ? `[${v.elementType} × ${(v.value as ArrayLike<unknown>).length}]`
              : typeof v.value === 'bigint'
                ? v.value.toString()
                : v.value,
          ]),
        );
        process.stdout.write(
          `${JSON.stringify({ path: file.path, version: file.version, metadata, tensors: tensors.map((t) => ({ name: t.name, type: t.typeName, shape: t.shape, bytes: t.byteLength })) }, null, 2)}\n`,
        );
        return;
      }
      process.stdout.write(
        `${file.path}\nGGUF v${file.version}, ${file.metadata.size} keys, ${tensors.length} tensors\n\n`,
      );
      for (const [k, v] of file.metadata) process.stdout.write(`${k.padEnd(44)} ${show(v)}\n`);
      process.stdout.write('\n');
      const w = Math.max(...tensors.map((t) => t.name.length), 4);
      process.stdout.write(`${'name'.padEnd(w)}  ${'type'.padEnd(6)}  ${'shape'.padEnd(16)}  bytes\n`);
      let total = 0;
      for (const t of tensors) {
        total += t.byteLength;
        process.stdout.write(
          `${t.name.padEnd(w)}  ${t.typeName.padEnd(6)}  ${`[${t.shape.join(', ')}]`.padEnd(16)}  ${t.byteLength}\n`,
        );
      }
      process.stdout.write(`\n${tensors.length} tensors, ${(total / 1e6).toFixed(2)} MB\n`);
    });
}
