// Incremental native build: reconfigures only when the list of sources changed (binding.gyp globs them at
// configure time), otherwise runs `node-gyp build`, which recompiles only what changed.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

// Builds in one checkout are serialised (a reconfigure wipes build/ under a concurrent compile).
const lock = path.join(root, '.build-lock');
const started = Date.now();
for (;;) {
  try {
    fs.mkdirSync(lock);
    break;
  } catch {
    const age = Date.now() - fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs;
    if (age > 15 * 60_000) fs.rmSync(lock, { recursive: true, force: true });
    else if (Date.now() - started > 20 * 60_000) throw new Error(`${lock} is held by another build`);
    else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
  }
}
process.on('exit', () => fs.rmSync(lock, { recursive: true, force: true }));
const sources = ['generic', 'avx2', 'avx512']
  .map((w) => execFileSync(process.execPath, [path.join(__dirname, 'sources.cjs'), w], { encoding: 'utf8' }))
  .join('\n');
const stamp = path.join(root, 'build', 'ternion-sources.txt');
const configured =
  fs.existsSync(path.join(root, 'build', 'Makefile')) ||
  fs.existsSync(path.join(root, 'build', 'binding.sln'));
const stale = !configured || !fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== sources;
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const jobs = ['--jobs', 'max'];
// Build against the running Node's own headers when npm did not say where they are (no download needed).
const headers = path.resolve(process.execPath, '..', '..', 'include', 'node', 'node_api.h');
if (!process.env.npm_config_nodedir && fs.existsSync(headers))
  jobs.push(`--nodedir=${path.resolve(headers, '..', '..', '..')}`);
if (stale) execFileSync(process.execPath, [gyp, 'rebuild', ...jobs], { cwd: root, stdio: 'inherit' });
else execFileSync(process.execPath, [gyp, 'build', ...jobs], { cwd: root, stdio: 'inherit' });
fs.writeFileSync(stamp, sources);
