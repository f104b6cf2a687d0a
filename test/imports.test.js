'use strict';
// lib/ is layered: no module reaches back to one that imports it, type-only imports
// included (they tie two files' concepts together as much as values do). A folder under
// lib/ is one concept (lib/attribution, lib/pcapng, ...), so the same holds between
// folders and lib/'s own files: lib/batch.ts may use lib/attribution/, or the other way
// round, not both. The graph is the one tsc itself resolves, from lib/'s sources, so it
// needs no build.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const root = path.join(__dirname, '..');
const lib = path.join(root, 'lib');

/** Every lib/ module and the lib/ modules it imports, as tsc resolves them. */
function moduleGraph() {
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(root, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  );
  const graph = new Map();
  for (const file of config.fileNames) {
    const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map(({ fileName }) => ts.resolveModuleName(fileName, file, config.options, ts.sys).resolvedModule?.resolvedFileName)
      .filter((target) => target !== undefined && target.startsWith(lib + path.sep) && !target.endsWith('.d.ts'));
    graph.set(path.relative(root, file), [...new Set(targets.map((t) => path.relative(root, t)))]);
  }
  return graph;
}

/** The graph with each folder under lib/ made one node (lib/'s own files stay apart). */
function folderGraph(graph) {
  const node = (file) => (path.dirname(file) === 'lib' ? file : path.dirname(file));
  const folded = new Map();
  for (const [file, targets] of graph) {
    const from = node(file);
    const to = folded.get(from) ?? new Set();
    for (const target of targets) if (node(target) !== from) to.add(node(target));
    folded.set(from, to);
  }
  return new Map([...folded].map(([from, to]) => [from, [...to]]));
}

/** The first cycle a depth-first walk meets, as the list of its files; null if none. */
function findCycle(graph) {
  const state = new Map(); // absent: not seen; 1: on the current path; 2: done
  const trail = [];
  const visit = (file) => {
    state.set(file, 1);
    trail.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 1) return [...trail.slice(trail.indexOf(next)), next];
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    trail.pop();
    state.set(file, 2);
    return null;
  };
  for (const file of graph.keys()) {
    const found = state.has(file) ? null : visit(file);
    if (found) return found;
  }
  return null;
}

describe('lib/ module graph', function () {
  const graph = moduleGraph();

  it('has no import cycle between files (type-only imports included)', function () {
    assert.ok(graph.size > 50, `read ${graph.size} modules`);
    assert.ok(graph.get(path.join('lib', 'index.ts')).length > 10, 'imports were resolved');
    const cycle = findCycle(graph);
    assert.equal(cycle, null, `import cycle: ${cycle?.join(' -> ')}`);
  });

  it("has no import cycle between lib/'s folders and files", function () {
    const folders = folderGraph(graph);
    assert.ok(folders.has(path.join('lib', 'attribution')) && folders.has(path.join('lib', 'pcapng')));
    const cycle = findCycle(folders);
    assert.equal(cycle, null, `import cycle: ${cycle?.join(' -> ')}`);
  });

  it('finds a cycle where there is one', function () {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', []],
    ]);
    assert.deepEqual(findCycle(graph), ['a', 'b', 'c', 'a']);
    assert.equal(
      findCycle(
        new Map([
          ['a', ['b']],
          ['b', []],
        ]),
      ),
      null,
    );
    const files = new Map([
      [path.join('lib', 'x.ts'), [path.join('lib', 'f', 'a.ts')]],
      [path.join('lib', 'f', 'a.ts'), []],
      [path.join('lib', 'f', 'b.ts'), [path.join('lib', 'x.ts')]],
    ]);
    assert.equal(findCycle(files), null);
    assert.deepEqual(findCycle(folderGraph(files)), [path.join('lib', 'x.ts'), path.join('lib', 'f'), path.join('lib', 'x.ts')]);
  });
});
