'use strict';
// The harness's own messages, on stderr (stdout carries the report).

const log = (msg) => console.error(`bench: ${msg}`);

/** Stops the run: a usage error or a missing tool (exit code 2). */
function fail(msg) {
  console.error(`bench: ${msg}`);
  process.exit(2);
}

module.exports = { log, fail };
