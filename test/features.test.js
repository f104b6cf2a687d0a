'use strict';
// The guard against a probe that says "missing" where the kernel has a feature: such a
// probe would turn the feature's tests into skips, so it fails under CI instead.
const assert = require('node:assert/strict');
const os = require('node:os');
const { probe } = require('..');
const { requirePrivileges } = require('./helpers/privileged');
const { MINIMUM, MEMCG_ACCOUNTING, kernelAtLeast, kernelHas, verdict } = require('./helpers/features');

describe('kernel features by release (the skip guard)', function () {
  it('compares releases as the kernel writes them', function () {
    assert.equal(kernelAtLeast('6.6', '6.18.44-fc-v973'), true);
    assert.equal(kernelAtLeast('6.6', '6.6.0'), true);
    assert.equal(kernelAtLeast('6.6', '6.1.0-57-amd64'), false);
    assert.equal(kernelAtLeast('5.11', '5.10.0-46-amd64'), false);
    assert.equal(kernelAtLeast('5.8', '6.0.1'), true);
    assert.equal(kernelAtLeast('4.17', '4.9.337'), false);
    assert.throws(() => kernelHas('warpDrive'), /no minimum release written for warpDrive/);
  });

  it('skips a test where the kernel lacks the feature, and fails it under CI where the probe must be wrong', function () {
    const report = (release, ok) => ({ kernelRelease: release, features: { tcx: { ok, reason: 'no tcx attach points (EINVAL)' } } });
    assert.equal(verdict('tcx', report('6.18.44', true), true), null);
    assert.deepEqual(verdict('tcx', report('6.1.0-57-amd64', false), true), {
      fail: false,
      reason: 'the kernel lacks it: no tcx attach points (EINVAL)',
    });
    const wrong = verdict('tcx', report('6.6.0', false), true);
    assert.equal(wrong.fail, true);
    assert.match(wrong.reason, /the probe says tcx is missing on Linux 6\.6\.0, which has it from 6\.6: no tcx attach points/);
    assert.equal(verdict('tcx', report('6.6.0', false), false).fail, false, 'outside CI: a skip, with that reason');
  });

  describe(`on this kernel (${os.release()})`, function () {
    let report;
    before(async function () {
      await requirePrivileges(this);
      report = await probe();
    });

    for (const feature of Object.keys(MINIMUM)) {
      it(`the probe finds ${feature} wherever the release has it (Linux ${MINIMUM[feature]}+)`, function () {
        const v = verdict(feature, report, true);
        if (v && !v.fail) this.skip(v.reason);
        assert.equal(v, null, v?.reason);
      });
    }

    it(`the probe says who BPF memory is charged to as the release does (memory cgroups from ${MEMCG_ACCOUNTING})`, function () {
      const { reason } = report.features.memlock;
      if (kernelAtLeast(MEMCG_ACCOUNTING)) assert.match(reason, /charges BPF memory to memory cgroups/);
      else assert.match(reason, /charges BPF maps to RLIMIT_MEMLOCK/);
    });
  });
});
