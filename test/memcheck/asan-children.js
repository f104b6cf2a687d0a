'use strict';
// Loaded (mocha --require) by the ASan run of the suite, whose node runs with ASan's
// runtime preloaded (LD_PRELOAD). Children inherit it, as they must where they are node
// (fixtures, the CLI, capsh or a seccomp wrapper starting node). Some uninstrumented
// programs deadlock at startup with it preloaded (Wireshark's glib tools and curl, seen
// here): they are started without it.
const childProcess = require('node:child_process');
const path = require('node:path');

const WITHOUT_ASAN = new Set(['curl', 'capinfos', 'editcap', 'mergecap', 'reordercap', 'text2pcap', 'dumpcap']);

for (const name of ['spawn', 'spawnSync', 'execFile', 'execFileSync']) {
  const original = childProcess[name];
  // (file, args?, options?, callback?): the same, with the runtime left out of env.
  childProcess[name] = function (file, ...rest) {
    if (!WITHOUT_ASAN.has(path.basename(String(file)))) return original.call(this, file, ...rest);
    const args = Array.isArray(rest[0]) ? rest.shift() : [];
    const options = rest[0] !== null && typeof rest[0] === 'object' ? rest.shift() : {};
    const { LD_PRELOAD: _dropped, ...env } = options.env ?? process.env;
    return original.call(this, file, args, { ...options, env }, ...rest);
  };
}
