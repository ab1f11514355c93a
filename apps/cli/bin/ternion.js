#!/usr/bin/env node
import('../dist/main.js')
  .then((m) => m.main(process.argv))
  .catch((e) => {
    process.stderr.write(`ternion: ${e?.message ?? e}\n`);
    process.exitCode = 1;
  });
