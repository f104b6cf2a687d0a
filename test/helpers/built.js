'use strict';
// Test programs built from source, kept by the hash of what they are built from: the
// kernel matrix runs the suite on this machine's kernel first and then in qemu over
// the same checkout, where the compilers run ten times slower and would rebuild the
// same bytes. The build is the same either way; only where it lands differs.
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const CACHE = path.join(__dirname, '..', '..', 'build', 'test-programs');

/**
 * A folder holding what `build(dir)` writes, built once per distinct `sources` (files
 * whose bytes make up the key) and `recipe` (the commands' arguments, as a string).
 * Falls back to a private folder where the cache cannot be written (a read-only checkout).
 */
function built(name, sources, recipe, build) {
  const hash = crypto.createHash('sha256').update(recipe);
  for (const file of sources) hash.update(file).update('\0').update(fs.readFileSync(file));
  const dir = path.join(CACHE, `${name}-${hash.digest('hex').slice(0, 16)}`);
  if (fs.existsSync(path.join(dir, '.complete'))) return dir;
  let stage;
  try {
    fs.mkdirSync(CACHE, { recursive: true });
    stage = fs.mkdtempSync(path.join(CACHE, `.${name}-`));
  } catch {
    stage = fs.mkdtempSync(path.join(os.tmpdir(), `tw-${name}-`));
  }
  build(stage);
  fs.writeFileSync(path.join(stage, '.complete'), '');
  try {
    fs.renameSync(stage, dir);
    return dir;
  } catch {
    return stage; // another run finished first, or the cache is not ours to write
  }
}

module.exports = { built };
