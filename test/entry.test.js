'use strict';
// Both entry points expose the same API, and the ESM one is the CommonJS instance.
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
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

  it("types: cap.tls is the TLS plugin's type (declared by the plugin, not the Capturer) from both entry points", function () {
    this.timeout(Math.max(this.timeout(), 120000)); // never below the run's own (emulated kernels are slower)
    const root = path.join(__dirname, '..');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-types-'));
    try {
      const use = (from) => `
        import { openCapturer, type TlsEvent, type TlsPlugin } from ${JSON.stringify(from)};
        export async function read(): Promise<number> {
          const cap = await openCapturer({ tls: 'auto' });
          const plugin: TlsPlugin | undefined = cap.tls;
          // @ts-expect-error: it may be absent (and it is not any)
          const always: TlsPlugin = cap.tls;
          let pids = 0;
          for await (const ev of cap.tls ?? []) pids += (ev satisfies TlsEvent).pid;
          return pids + (plugin && always ? 1 : 0);
        }`;
      fs.writeFileSync(path.join(dir, 'cjs.ts'), use(path.join(root, 'dist', 'index')));
      fs.writeFileSync(path.join(dir, 'esm.mts'), use(path.join(root, 'esm', 'index.mjs')));
      const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      const flags = [
        '--noEmit',
        '--skipLibCheck', // the declarations are checked by npm run typecheck; here only their use is
        '--strict',
        '--target',
        'es2022',
        '--module',
        'nodenext',
        '--types',
        'node',
        '--typeRoots',
        path.join(root, 'node_modules', '@types'),
      ];
      execFileSync(process.execPath, [tsc, ...flags, path.join(dir, 'cjs.ts'), path.join(dir, 'esm.mts')], { encoding: 'utf8' });
    } catch (err) {
      assert.fail(`tsc: ${err.stdout ?? ''}${err.stderr ?? err.message}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
