import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/** Median seconds per call of each kernel at one (rows, cols, n). */
export interface KernelTiming {
  readonly mad: number;
  readonly lut: number;
}

/**
 * Saved measurements: machine key (CPU model | ISA | threads) -> shape key (`rows x cols / mode`) -> batch size
 * n -> timing. Version 1.
 */
export interface KernelProfile {
  version: 1;
  machines: Record<string, Record<string, Record<string, KernelTiming>>>;
}

/** Env var that overrides the profile location (`~/.cache/ternion/tmac-profile.json`). */
export const TMAC_PROFILE_ENV = 'TERNION_TMAC_PROFILE';

export function defaultProfilePath(): string {
  return process.env[TMAC_PROFILE_ENV] ?? path.join(homedir(), '.cache', 'ternion', 'tmac-profile.json');
}

export function emptyProfile(): KernelProfile {
  return { version: 1, machines: {} };
}

function isTiming(v: unknown): v is KernelTiming {
  if (typeof v !== 'object' || v === null) return false;
  const t = v as Record<string, unknown>;
  return typeof t.mad === 'number' && typeof t.lut === 'number' && t.mad > 0 && t.lut > 0;
}

/** Structural check of a parsed profile; returns why it is invalid, or undefined. */
function profileProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null) return 'not an object';
  const p = v as Record<string, unknown>;
  if (p.version !== 1) return `unknown version ${String(p.version)}`;
  if (typeof p.machines !== 'object' || p.machines === null) return 'no machines object';
  for (const [machine, shapes] of Object.entries(p.machines)) {
    if (typeof shapes !== 'object' || shapes === null) return `machine ${machine} is not an object`;
    for (const [shape, byN] of Object.entries(shapes)) {
      if (typeof byN !== 'object' || byN === null) return `shape ${shape} is not an object`;
      for (const [n, t] of Object.entries(byN)) {
        if (!/^[1-9]\d*$/.test(n) || !isTiming(t)) return `shape ${shape} n=${n} is not a {mad, lut} timing`;
      }
    }
  }
  return undefined;
}

/**
 * Reads a profile. A missing file gives an empty profile silently; an unreadable or corrupt one gives an
 * empty profile and a warning (the chooser then measures again and overwrites it on save).
 */
export function loadProfile(file: string, warn: (message: string) => void): KernelProfile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      warn(`@ternion/tmac: cannot read kernel profile ${file}: ${(e as Error).message}`);
    return emptyProfile();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    warn(
      `@ternion/tmac: ignoring corrupt kernel profile ${file} (${(e as Error).message}); it will be re-measured`,
    );
    return emptyProfile();
  }
  const problem = profileProblem(parsed);
  if (problem !== undefined) {
    warn(`@ternion/tmac: ignoring invalid kernel profile ${file} (${problem}); it will be re-measured`);
    return emptyProfile();
  }
  return parsed as KernelProfile;
}

/** Writes atomically (temp file + rename), creating the directory. */
export function saveProfile(file: string, profile: KernelProfile): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(profile, null, 2)}\n`);
  renameSync(tmp, file);
}
