import { native } from './native.js';

/** A recorded sequence of kernel calls, replayable as one native call. */
export interface Program {
  /** Number of recorded kernel calls. */
  readonly length: number;
  /** Runs every recorded call on this thread. */
  run(): void;
  /** Runs every recorded call on a libuv worker thread; the JS event loop keeps serving meanwhile. */
  runAsync(): Promise<void>;
  /**
   * Times every recorded call of the runs that follow (off by default: it costs two clock reads per call).
   * Like the other methods, not while a runAsync() is in flight.
   */
  setProfiling(on: boolean): void;
  /** Seconds spent in each recorded call, summed over the profiled runs, in recording order. */
  profile(): ProgramProfile;
  /** Zeroes the profile. */
  resetProfile(): void;
}

export interface ProgramProfile {
  /** Profiled runs the seconds are summed over. */
  readonly runs: number;
  /** (length) per recorded call: the kernel's function name (e.g. 'ternaryMatmul') and its seconds. */
  readonly calls: readonly { readonly kernel: string; readonly seconds: number }[];
}

interface ProgramNative {
  recordBegin(): void;
  recordEnd(): Program;
  recordAbort(): void;
}
const n = native as unknown as ProgramNative;

/**
 * Records the kernel calls `body` makes (they are validated now, executed later) into a Program. A forward
 * pass recorded once can be replayed each step: kernels read token ids, positions and block tables from
 * their buffers when they run, so only buffer contents change between runs.
 */
export function recordProgram(body: () => void): Program {
  n.recordBegin();
  try {
    body();
  } catch (e) {
    n.recordAbort();
    throw e;
  }
  return n.recordEnd();
}
