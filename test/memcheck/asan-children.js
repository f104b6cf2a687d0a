'use strict';
// Loaded (mocha --require) by the ASan run of the suite, whose node runs with ASan's
// runtime preloaded (LD_PRELOAD). Children inherit it, as they must where they are node
// (fixtures, the CLI, capsh or a seccomp wrapper starting node). Some uninstrumented
// programs deadlock at startup with it preloaded (Wireshark's glib tools and curl, seen
// here): they are started without it.
//
// The fixture that calls process.exit() with capturers open, from a timer or a listener
// (test/fixtures/exit-while-open.js, given TAPWIRE_EXIT), runs without the leak check
// at exit; ASan checks its every access still. There LeakSanitizer's tracer (clang 14)
// crashed now and then ("Tracer caught signal 11": 1 run in 15 here), a known bug of the
// runtime fixed in later releases, and its fatal error replaced the exit status the
// test checks. Leaks at exit are checked in the workers' fixture and every other child.
const childProcess = require('node:child_process');
const path = require('node:path');

const WITHOUT_ASAN = new Set(['curl', 'capinfos', 'editcap', 'mergecap', 'reordercap', 'text2pcap', 'dumpcap']);

/** The environment a child gets under ASan, or undefined to leave the call as it is. */
function childEnv(file, env) {
  if (WITHOUT_ASAN.has(path.basename(String(file)))) {
    const { LD_PRELOAD: _dropped, ...rest } = env;
    return rest;
  }
  if (env.TAPWIRE_EXIT !== undefined) return { ...env, ASAN_OPTIONS: `${env.ASAN_OPTIONS ?? ''}:detect_leaks=0` };
  return undefined;
}

for (const name of ['spawn', 'spawnSync', 'execFile', 'execFileSync']) {
  const original = childProcess[name];
  // (file, args?, options?, callback?): the same, with the environment childEnv gives.
  childProcess[name] = function (file, ...rest) {
    const given = rest.find((r) => r !== null && typeof r === 'object' && !Array.isArray(r));
    const env = childEnv(file, given?.env ?? process.env);
    if (env === undefined) return original.call(this, file, ...rest);
    const args = Array.isArray(rest[0]) ? rest.shift() : [];
    const options = rest[0] !== null && typeof rest[0] === 'object' ? rest.shift() : {};
    return original.call(this, file, args, { ...options, env }, ...rest);
  };
}
