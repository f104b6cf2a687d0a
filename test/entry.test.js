'use strict';
// Both entry points expose the same API, and the ESM one is the CommonJS instance.
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const cjs = require('..');

describe('package entry points', function () {
  it('ESM named exports match the CommonJS exports', function () {
    const script = `
      import * as esm from 'tapwire';
      import { createRequire } from 'node:module';
      const cjs = createRequire(import.meta.url)('tapwire');
      const names = Object.keys(cjs).sort();
      const missing = names.filter((n) => esm[n] !== cjs[n]);
      console.log(JSON.stringify({ names, missing, same: esm.default === cjs }));`;
    const out = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8' }),
    );
    assert.deepEqual(out.names, Object.keys(cjs).sort());
    assert.deepEqual(out.missing, []);
    assert.equal(out.same, true);
  });
});
