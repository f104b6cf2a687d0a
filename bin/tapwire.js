#!/usr/bin/env node
'use strict';
let cli;
try {
  cli = require('../dist/cli');
} catch (e) {
  // No addon for this platform: its one sentence, not a stack.
  if (e.code !== 'ERR_UNSUPPORTED_PLATFORM') throw e;
  process.stderr.write(`tapwire: ${e.code}: ${e.message}\n`);
  process.exit(1);
}
cli.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
