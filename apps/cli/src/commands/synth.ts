import { MODEL_SHAPES, synthesizeModel } from '@ternion/engine';
import cliProgress from 'cli-progress';
import { type Command, Option } from 'commander';
import { parseIntArg } from '../options.js';

export function registerSynth(program: Command): void {
  program
    .command('synth')
    .description('write a random-weight model at a real shape (for tests and benchmarks)')
    .argument('<shape>', `one of: ${Object.keys(MODEL_SHAPES).join(', ')}`)
    .requiredOption('-o, --output <file>', 'GGUF file to write')
    .addOption(
      new Option('--type <type>', 'ternary weight format')
        .choices(['I2_S', 'TQ2_0', 'TQ1_0'])
        .default('TQ2_0'),
    )
    .addOption(
      new Option('--arch <arch>', 'architecture name (default: the shape’s)').choices([
        'bitnet',
        'bitnet-b1.58',
      ]),
    )
    .addOption(
      new Option('--seed <n>', 'weights seed').argParser(parseIntArg('--seed', 0, 2 ** 31 - 1)).default(1),
    )
    .action(
      async (
        shape: string,
        flags: {
          output: string;
          type: 'I2_S' | 'TQ2_0' | 'TQ1_0';
          arch?: 'bitnet' | 'bitnet-b1.58';
          seed: number;
        },
      ) => {
        if (!(shape in MODEL_SHAPES)) {
          throw new Error(`unknown shape '${shape}'; known: ${Object.keys(MODEL_SHAPES).join(', ')}`);
        }
        const bar = process.stderr.isTTY
          ? new cliProgress.SingleBar(
              { format: 'writing {bar} {value}/{total} layers', stream: process.stderr },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
        let started = false;
        const writer = synthesizeModel({
          shape,
          format: flags.type,
          seed: flags.seed,
          ...(flags.arch ? { architecture: flags.arch } : {}),
          onProgress: (done, total) => {
            if (!bar) return;
            if (!started) {
              bar.start(total, 0);
              started = true;
            }
            bar.update(done);
          },
        });
        await writer.write(flags.output);
        if (started) bar?.stop();
        process.stderr.write(`wrote ${flags.output} (${shape}, ${flags.type})\n`);
      },
    );
}
