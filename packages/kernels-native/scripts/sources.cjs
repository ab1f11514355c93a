// Lists the C++ sources for one binding.gyp target, so adding a kernel file needs no gyp edit.
//   generic: every src/**/*.cc that is not an ISA variant (compiled with the baseline flags)
//   avx2:    src/**/*_avx2.cc   (compiled with -mavx2 -mfma -mf16c -mbmi2)
//   avx512:  src/**/*_avx512.cc (compiled with AVX-512 F/BW/VL/DQ/VNNI/VBMI flags)
const fs = require('node:fs');
const path = require('node:path');

const which = process.argv[2];
const root = path.join(__dirname, '..');
const out = [];
(function walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(p);
    else if (entry.name.endsWith('.cc')) out.push(path.relative(root, p).split(path.sep).join('/'));
  }
})(path.join(root, 'src'));
out.sort();
const isa = (f) => (f.endsWith('_avx2.cc') ? 'avx2' : f.endsWith('_avx512.cc') ? 'avx512' : 'generic');
process.stdout.write(out.filter((f) => isa(f) === which).join(' '));
