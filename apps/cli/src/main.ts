import { TernionError } from '@ternion/engine';
import { Command, CommanderError } from 'commander';
import { registerBench } from './commands/bench.js';
import { registerChat } from './commands/chat.js';
import { registerInfo } from './commands/info.js';
import { registerRun } from './commands/run.js';
import { registerServe } from './commands/serve.js';
import { registerSynth } from './commands/synth.js';

export function buildProgram(): Command {
  const program = new Command('ternion')
    .description('Run ternary (BitNet b1.58) language models on the CPU')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerRun(program);
  registerChat(program);
  registerInfo(program);
  registerBench(program);
  registerSynth(program);
  registerServe(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    if (TernionError.isInstance(e)) {
      process.stderr.write(`ternion: ${e.message}\n${e.hint ? `hint: ${e.hint}\n` : ''}`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}
