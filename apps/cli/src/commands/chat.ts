import { createInterface } from 'node:readline/promises';
import { ChatSession } from '@ternion/engine';
import { type Command, Option } from 'commander';
import { loadWithProgress, type ModelFlags } from '../load.js';
import { modelOptions, samplingOptions } from '../options.js';
import { generateOptions, type SamplingFlags } from './run.js';

export function registerChat(program: Command): void {
  const cmd = program
    .command('chat')
    .description('interactive chat with the model’s chat template and history');
  for (const o of [...modelOptions(), ...samplingOptions()]) cmd.addOption(o);
  cmd.addOption(new Option('--system <text>', 'system prompt'));
  cmd.action(async (flags: ModelFlags & SamplingFlags & { system?: string }) => {
    const model = await loadWithProgress(flags);
    const ctx = await model.createContext(flags.ctxSize === undefined ? {} : { contextSize: flags.ctxSize });
    const session = new ChatSession(
      ctx.getSequence(),
      flags.system === undefined ? {} : { systemPrompt: flags.system },
    );
    const rl = createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: process.stdin.isTTY,
    });
    process.stdout.write('Type a message; an empty line or Ctrl-D quits. Ctrl-C stops a reply.\n');
    try {
      for (;;) {
        let line: string;
        try {
          line = await rl.question('> ');
        } catch {
          break; // stdin closed
        }
        if (line.trim() === '') break;
        const abort = new AbortController();
        const onSigint = (): void => abort.abort();
        process.once('SIGINT', onSigint);
        try {
          for await (const chunk of session.promptStream(line, generateOptions(flags, abort.signal))) {
            process.stdout.write(chunk.text);
          }
        } catch (e) {
          if (!abort.signal.aborted) throw e;
        } finally {
          process.off('SIGINT', onSigint);
        }
        process.stdout.write('\n');
      }
    } finally {
      rl.close();
      model.dispose();
    }
  });
}
