// Incremental native build: reconfigures only when the list of sources changed (binding.gyp globs them at
// configure time), otherwise runs `node-gyp build`, which recompiles only what changed.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const sources = ['generic', 'avx2', 'avx512']
  .map((w) => execFileSync(process.execPath, [path.join(__dirname, 'sources.cjs'), w], { encoding: 'utf8' }))
  .join('\n');
const stamp = path.join(root, 'build', 'ternion-sources.txt');
const configured = fs.existsSync(path.join(root, 'build', 'Makefile')) || fs.existsSync(path.join(root, 'build', 'binding.sln'));
const stale = !configured || !fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== sources;
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const jobs = ['--jobs', 'max'];
// Build against the running Node's own headers when npm did not say where they are (no download needed).
const headers = path.resolve(process.execPath, '..', '..', 'include', 'node', 'node_api.h');
if (!process.env.npm_config_nodedir && fs.existsSync(headers)) jobs.push(`--nodedir=${path.resolve(headers, '..', '..', '..')}`);
if (stale) execFileSync(process.execPath, [gyp, 'rebuild', ...jobs], { cwd: root, stdio: 'inherit' });
else execFileSync(process.execPath, [gyp, 'build', ...jobs], { cwd: root, stdio: 'inherit' });
fs.writeFileSync(stamp, sources);
