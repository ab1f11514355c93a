/**
 * Loopback serving benchmark: aggregate generated tok/s, time to first token and inter-token latency at 1,
 * 4, 16 and 64 concurrent streams against a synthesized 700m-shape model (bitnet_b1_58-large layout, TQ2_0).
 * Each stream is a closed loop of REQUESTS completions sent back to back, so new prompts are prefilled while
 * other streams decode (the steady state continuous batching is for, rather than one synchronized wave),
 * server started with parallel = 16 and a bounded queue, so the 64-stream level also exercises admission
 * control (503 + Retry-After, retried by the client). The clients run in a worker thread (stream-client.ts),
 * and the same generations are then run straight on the engine as a baseline for what HTTP + SSE cost.
 * Every level is bounded in time; a stream still running at the cap is cancelled and reported as "cut",
 * never left hanging.
 */

import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ModelConfig, PassProfile } from '@ternion/engine';
import { loadModel, synthesizeModel } from '@ternion/engine';
import { measureComputePeak, measureReadBandwidth } from '@ternion/kernels-native';
import { ModelEngine } from '../engine-host.js';
import { createServer } from '../server.js';
import {
  type LevelRequest,
  type LevelResult,
  percentile,
  type StreamResult,
  sleep,
} from './stream-client.js';

const print = (line: string) => process.stdout.write(`${line}\n`);

/** Runs one level of clients in a worker thread (see stream-client.ts). */
async function runLevelInWorker(request: LevelRequest): Promise<LevelResult> {
  const worker = new Worker(new URL('./stream-client.js', import.meta.url), { workerData: request });
  const [result] = (await once(worker, 'message')) as [LevelResult];
  await worker.terminate();
  return result;
}

const LEVELS = [1, 4, 16, 64];
const PARALLEL = 16;
const MAX_QUEUE = 32;
const MAX_TOKENS = Number(process.env.BENCH_MAX_TOKENS ?? 32);
const LEVEL_SECONDS = Number(process.env.BENCH_LEVEL_SECONDS ?? 150);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 4);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ternion-server-bench-'));
  const path = join(dir, '700m-tq2_0.gguf');
  try {
    let t = performance.now();
    writeFileSync(path, synthesizeModel({ shape: '700m', format: 'TQ2_0', seed: 1 }).toBytes());
    const fileBytes = statSync(path).size;
    print(
      `synthesized 700m TQ2_0: ${(fileBytes / 1e6).toFixed(0)} MB in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    t = performance.now();
    const model = await loadModel(path);
    const engine = await ModelEngine.create(model, { parallel: PARALLEL, contextSize: 256, modelId: '700m' });
    const server = createServer({
      engine,
      port: 0,
      logLevel: 'error',
      maxQueue: MAX_QUEUE,
      drainTimeoutMs: 5000,
    });
    const url = await server.start();
    // The machine's peaks, measured before the levels and again after: noise only ever lowers a peak, so the
    // higher of the two is kept (a neighbour's load during one of them would make every % below wrong).
    const probe = new Uint8Array(512 << 20).fill(1); // (512 MiB) far larger than the last-level cache: DRAM
    const machineBefore = measureMachine(probe);
    print(
      `loaded in ${((performance.now() - t) / 1000).toFixed(1)} s; server ${url}, parallel ${PARALLEL}, maxQueue ${MAX_QUEUE}`,
    );

    const eos = model.tokenizer.eosId;
    // Random weights: ban end-of-sequence so every stream generates exactly max_tokens.
    const body = JSON.stringify({
      prompt: 'Once upon a time there was a little robot who',
      max_tokens: MAX_TOKENS,
      temperature: 0,
      logprobs: 0,
      stream: true,
      stream_options: { include_usage: true },
      ...(eos === undefined ? {} : { logit_bias: { [String(eos)]: -100 } }),
    });
    const warmBody = JSON.stringify({ ...JSON.parse(body), max_tokens: 2 });
    /** Waits until every sequence of the previous level is freed (a cut stream stops after its current step). */
    const settle = async (): Promise<number> => {
      const t0 = performance.now();
      while (engine.kvStats().usedBlocks > 0 || server.state.activeSequences > 0) {
        if (performance.now() - t0 > 60_000) {
          // A forward pass that never returns (an engine fault) must not hang the benchmark too.
          print('engine did not free its sequences within 60 s: a forward pass is stuck; stopping');
          process.exit(2);
        }
        await sleep(20);
      }
      return (performance.now() - t0) / 1000;
    };

    print('');
    print(
      `max_tokens ${MAX_TOKENS}, ${REQUESTS} requests per stream back to back, level cap ${LEVEL_SECONDS} s`,
    );
    print(
      'streams | reqs | cut | err | 503s | 429s | tokens | wall s | agg tok/s | TTFT p50 / p99 ms | TTFT w/ retries p99 | ITL p50 / p99 ms | /health p50 / max ms',
    );
    print(
      '--------|------|-----|-----|------|------|--------|--------|-----------|-------------------|---------------------|------------------|---------------------',
    );
    const lost: string[] = [];
    const throughput = new Map<number, number>();
    const notes: string[] = [];
    for (const streams of LEVELS) {
      // Untimed warm-up at the same concurrency: the engine records a native program per new batch shape.
      const warm = Math.min(streams, PARALLEL);
      await runLevelInWorker({ url, body: warmBody, streams: warm, requests: 1, capMs: 120_000 });
      await settle();
      // Liveness probe from the server's own thread: a forward pass run on the event loop would show up
      // here as /health latency of a whole pass.
      const health: number[] = [];
      let probing = true;
      const probe = (async () => {
        while (probing) {
          const t = performance.now();
          await fetch(`${url}/health`).then((r) => r.arrayBuffer());
          health.push(performance.now() - t);
          await sleep(100);
        }
      })();
      const { results, wallSeconds: wall } = await runLevelInWorker({
        url,
        body,
        streams,
        requests: REQUESTS,
        capMs: LEVEL_SECONDS * 1000,
      });
      probing = false;
      await probe;
      health.sort((a, b) => a - b);
      const tokens = results.reduce((s, r) => s + r.tokens, 0);
      const ttft = results.flatMap((r) => r.ttftMs).sort((a, b) => a - b);
      const ttftRetries = results.flatMap((r) => r.ttftWithRetriesMs).sort((a, b) => a - b);
      const gaps = results.flatMap((r) => r.gapsMs).sort((a, b) => a - b);
      const count = (o: StreamResult['outcome']) => results.filter((r) => r.outcome === o).length;
      const rate = tokens / wall;
      throughput.set(streams, rate);
      print(
        [
          String(streams).padStart(7),
          String(results.reduce((s, r) => s + r.completed, 0)).padStart(4),
          String(count('cut')).padStart(3),
          String(count('error')).padStart(3),
          String(results.reduce((s, r) => s + r.rejected503, 0)).padStart(4),
          String(results.reduce((s, r) => s + r.rejected429, 0)).padStart(4),
          String(tokens).padStart(6),
          wall.toFixed(1).padStart(6),
          rate.toFixed(2).padStart(9),
          `${percentile(ttft, 50).toFixed(0)} / ${percentile(ttft, 99).toFixed(0)}`.padStart(17),
          percentile(ttftRetries, 99).toFixed(0).padStart(19),
          `${percentile(gaps, 50).toFixed(0)} / ${percentile(gaps, 99).toFixed(0)}`.padStart(16),
          `${percentile(health, 50).toFixed(1)} / ${(health.at(-1) ?? Number.NaN).toFixed(1)}`.padStart(19),
        ].join(' | '),
      );
      if (count('cut') + count('error') > 0)
        lost.push(`${streams} streams: ${count('cut')} cut at the cap, ${count('error')} ended by an error`);
      const freedIn = await settle();
      if (count('cut') > 0)
        notes.push(
          `${streams} streams: sequences of cut streams freed ${freedIn.toFixed(1)} s after the cap`,
        );
    }
    for (const n of notes) print(n);
    // The same generations straight on the engine (no HTTP, no JSON): what the server costs on top.
    const promptTokens = model.tokenize('Once upon a time there was a little robot who');
    const direct = async (streams: number, maxTokens: number): Promise<number> => {
      const seqs = Array.from({ length: streams }, () => engine.context.getSequence());
      const t0 = performance.now();
      const results = await Promise.all(
        seqs.map((q) =>
          q.complete(promptTokens, {
            maxTokens,
            temperature: 0,
            ...(eos === undefined ? {} : { logitBias: new Map([[eos, -100]]) }),
          }),
        ),
      );
      const wall = (performance.now() - t0) / 1000;
      for (const q of seqs) q.dispose();
      return results.reduce((n, r) => n + r.completionTokens, 0) / wall;
    };
    const profiles = new Map<number, PassProfile | undefined>();
    for (const streams of [1, 16]) {
      await direct(streams, 2);
      // The timed run is profiled (two clock reads per kernel call, ~500 calls per pass: noise-level).
      engine.context.resetProfile();
      engine.context.setProfiling(true);
      const rate = await direct(streams, MAX_TOKENS);
      engine.context.setProfiling(false);
      profiles.set(
        streams,
        engine.context.profile().find((p) => p.tokens === streams && p.logits === streams),
      );
      print(
        `engine without HTTP, ${String(streams).padStart(2)} streams: ${rate.toFixed(2)} tok/s ` +
          `(server reaches ${((throughput.get(streams)! / rate) * 100).toFixed(0)}% of it)`,
      );
    }
    const one = throughput.get(1)!;
    const sixteen = throughput.get(16)!;
    print('');
    print(`16-stream / 1-stream throughput: ${(sixteen / one).toFixed(2)}x (goal >= 5x)`);
    const machineAfter = measureMachine(probe);
    const machine: Machine = {
      bandwidth: Math.max(machineBefore.bandwidth, machineAfter.bandwidth),
      int8MacsPerSecond: Math.max(machineBefore.int8MacsPerSecond, machineAfter.int8MacsPerSecond),
      f32FmasPerSecond: Math.max(machineBefore.f32FmasPerSecond, machineAfter.f32FmasPerSecond),
    };
    print(
      `machine: read bandwidth ${(machineBefore.bandwidth / 1e9).toFixed(1)} / ${(machineAfter.bandwidth / 1e9).toFixed(1)} GB/s, ` +
        `int8 peak ${(machineBefore.int8MacsPerSecond / 1e9).toFixed(0)} / ${(machineAfter.int8MacsPerSecond / 1e9).toFixed(0)} G MAC/s, ` +
        `FMA peak ${(machineBefore.f32FmasPerSecond / 1e9).toFixed(0)} / ${(machineAfter.f32FmasPerSecond / 1e9).toFixed(0)} G/s (before / after the levels; the higher is used)`,
    );
    for (const profile of profiles.values()) {
      if (profile) breakdown(model.config, machine, profile);
    }
    // Napkin math: every decode step streams all weights once, whatever the number of sequences in it.
    ceiling(model.config, model.weights.bytesPerToken, machine, one, sixteen);
    const leftBlocks = engine.kvStats().usedBlocks;
    print(`KV blocks in use after the run: ${leftBlocks} (expect 0)`);
    if (lost.length === 0) print('no request lost or hung: every stream completed all its requests');
    else for (const l of lost) print(`LOST: ${l}`);
    if (lost.length > 0 || leftBlocks !== 0) process.exitCode = 1;
    await server.close();
    engine.dispose();
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Machine {
  /** DRAM read bandwidth, bytes/s, all threads. */
  readonly bandwidth: number;
  readonly int8MacsPerSecond: number;
  readonly f32FmasPerSecond: number;
}

function measureMachine(probe: Uint8Array): Machine {
  const bandwidth = measureReadBandwidth(probe, 5).bytesPerSecond;
  const peak = measureComputePeak(5);
  return { bandwidth, int8MacsPerSecond: peak.int8MacsPerSecond, f32FmasPerSecond: peak.f32FmasPerSecond };
}

/** Multiply-adds per token of the ternary projections and of the output matrix. */
function macsPerToken(c: ModelConfig): { ternary: number; output: number } {
  const qDim = c.headCount * c.headDim;
  const kvDim = c.headCountKv * c.headDim;
  const d = c.embeddingLength;
  return {
    ternary: c.blockCount * (d * qDim + 2 * d * kvDim + qDim * d + 3 * d * c.feedForwardLength),
    output: c.vocabSize * d,
  };
}

/** Where a decode pass of `p.tokens` rows goes, kernel by kernel, with the GEMMs against the machine's peaks. */
function breakdown(c: ModelConfig, m: Machine, p: PassProfile): void {
  const macs = macsPerToken(c);
  const total = [...p.seconds.values()].reduce((a, b) => a + b, 0) / p.passes;
  const rows = [...p.seconds.entries()].sort((a, b) => b[1] - a[1]);
  print('');
  print(`${p.tokens}-row decode pass, ${p.passes} profiled: ${(total * 1e3).toFixed(2)} ms in kernels`);
  // q/k/v and gate/up run as one grouped call, the chooser may put some shapes on the LUT kernel: the GEMM
  // figures are for all ternary kernels together.
  const ternaryKernels = ['ternaryMatmul', 'ternaryMatmulGroup', 'lutMatmul'];
  const ternary = ternaryKernels.reduce((t, k) => t + (p.seconds.get(k) ?? 0), 0) / p.passes;
  const ternaryNote =
    p.tokens === 1
      ? `~${(macs.ternary / 4 / ternary / 1e9).toFixed(1)} GB/s counting 2 bits per weight (LUT-run shapes read 1.81) = ~${((macs.ternary / 4 / ternary / m.bandwidth) * 100).toFixed(0)}% of read bandwidth`
      : `${((p.tokens * macs.ternary) / ternary / 1e9).toFixed(0)} G MAC/s = ${(((p.tokens * macs.ternary) / ternary / m.int8MacsPerSecond) * 100).toFixed(0)}% of the int8 peak`;
  for (const [kernel, seconds] of rows.slice(0, 8)) {
    const t = seconds / p.passes;
    let note = '';
    if (kernel === 'matmulF16') {
      const rate = (p.tokens * macs.output) / t;
      note =
        p.tokens === 1
          ? `${((macs.output * 2) / t / 1e9).toFixed(1)} GB/s = ${(((macs.output * 2) / t / m.bandwidth) * 100).toFixed(0)}% of read bandwidth`
          : `${(rate / 1e9).toFixed(0)} G FMA/s = ${((rate / m.f32FmasPerSecond) * 100).toFixed(0)}% of the FMA peak`;
    }
    print(
      `  ${kernel.padEnd(18)} ${(t * 1e3).toFixed(2).padStart(7)} ms ${((t / total) * 100).toFixed(0).padStart(3)}%  ${note}`,
    );
  }
  print(
    `  all ternary GEMMs ${(ternary * 1e3).toFixed(2).padStart(7)} ms ${((ternary / total) * 100).toFixed(0).padStart(3)}%  ${ternaryNote}`,
  );
}

/**
 * The best 16-stream / 1-stream ratio this machine allows: a 1-row decode step can at best stream the weights it
 * reads (`stepBytes`, the engine's own count: ternary weights with their scales and the output matrix) at the
 * measured bandwidth; a 16-row step can at best run its multiply-adds at the measured int8 (ternary
 * GEMMs) and f32 FMA (F16 output matrix) peaks. Attention, norms and sampling are left out, so the real ceiling
 * is lower still.
 */
function ceiling(c: ModelConfig, stepBytes: number, m: Machine, one: number, sixteen: number): void {
  const macs = macsPerToken(c);
  const oneFloor = stepBytes / m.bandwidth;
  const sixteenCompute = (16 * macs.ternary) / m.int8MacsPerSecond + (16 * macs.output) / m.f32FmasPerSecond;
  const sixteenFloor = Math.max(sixteenCompute, oneFloor);
  print('');
  print(
    `ceiling: 1-row step >= ${(stepBytes / 1e6).toFixed(0)} MB / ${(m.bandwidth / 1e9).toFixed(1)} GB/s = ${(oneFloor * 1e3).toFixed(2)} ms ` +
      `(${(1 / oneFloor).toFixed(0)} tok/s; measured single stream ${one.toFixed(1)} = ${(one * oneFloor * 100).toFixed(0)}%); ` +
      `16-row step >= ${((16 * macs.ternary) / 1e9).toFixed(2)} G int8 MACs / ${(m.int8MacsPerSecond / 1e9).toFixed(0)} G/s + ` +
      `${((16 * macs.output) / 1e9).toFixed(2)} G FMAs / ${(m.f32FmasPerSecond / 1e9).toFixed(0)} G/s = ${(sixteenFloor * 1e3).toFixed(1)} ms ` +
      `(${(16 / sixteenFloor).toFixed(0)} tok/s; measured ${sixteen.toFixed(1)} = ${(((sixteen * sixteenFloor) / 16) * 100).toFixed(0)}%)`,
  );
  print(
    `best possible 16 / 1 ratio on this machine: ${((16 * oneFloor) / sixteenFloor).toFixed(2)}x with both steps at their floors; ` +
      `with today's single stream: ${(16 / sixteenFloor / one).toFixed(2)}x`,
  );
}

await main();
