'use strict';
const assert = require('node:assert/strict');
const { setTimeout: sleep } = require('node:timers/promises');

/** Resolves once `check()` holds (it may be async); fails naming `what` after `timeout` ms. */
async function until(what, check, timeout = 10000) {
  for (const end = Date.now() + timeout; Date.now() < end; await sleep(20)) if (await check()) return;
  assert.fail(`timed out waiting for ${what}`);
}

module.exports = { until };
