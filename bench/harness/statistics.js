'use strict';
// The runs of each scenario and capturer summed up: medians and ranges over the
// repetitions, and ratios paired per repetition against tcpdump and no capturer.

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}
function range(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  return v.length ? [Math.min(...v), Math.max(...v)] : null;
}

function summarize(runs, scenarios, capturers) {
  const find = (sc, cap, rep) => runs.find((r) => r.scenario === sc && r.capturer === cap && r.rep === rep);
  const out = [];
  for (const sc of scenarios) {
    for (const cap of capturers) {
      const rs = runs.filter((r) => r.scenario === sc && r.capturer === cap);
      if (!rs.length) continue;
      const pick = (f) => rs.map(f);
      // paired against the same repetition's 'none' and 'tcpdump' runs
      const delta = pick((r) => {
        const n = find(sc, 'none', r.rep);
        return n && cap !== 'none' ? r.senderNsPerPkt - n.senderNsPerPkt : null;
      });
      const tcp = (r) => find(sc, 'tcpdump', r.rep);
      const cpuX = pick((r) => {
        const t = tcp(r);
        return t && t.capturerNsPerPkt ? r.capturerNsPerPkt / t.capturerNsPerPkt : null;
      });
      const deltaX = pick((r) => {
        const t = tcp(r);
        const n = find(sc, 'none', r.rep);
        if (!t || !n) return null;
        const dt = t.senderNsPerPkt - n.senderNsPerPkt;
        return dt > 0 ? (r.senderNsPerPkt - n.senderNsPerPkt) / dt : null;
      });
      out.push({
        scenario: sc,
        capturer: cap,
        reps: rs.length,
        sendPps: median(pick((r) => r.sendPps)),
        sendPpsRange: range(pick((r) => r.sendPps)),
        keptOfBare: median(pick((r) => r.keptOfBare)),
        captureRatio: median(pick((r) => r.captureRatio)),
        captureRatioMin: range(pick((r) => r.captureRatio))?.[0] ?? null,
        dropped: median(pick((r) => r.dropped)),
        droppedMax: range(pick((r) => r.dropped))?.[1] ?? null,
        capturerNsPerPkt: median(pick((r) => r.capturerNsPerPkt)),
        capturerNsPerPktRange: range(pick((r) => r.capturerNsPerPkt)),
        senderNsPerPkt: median(pick((r) => r.senderNsPerPkt)),
        senderDeltaNsPerPkt: median(delta),
        senderDeltaRange: range(delta),
        cpuVsTcpdump: cap.startsWith('tapwire') || cap === 'cap' ? median(cpuX) : null,
        deltaVsTcpdump: cap.startsWith('tapwire') || cap === 'cap' ? median(deltaX) : null,
        errors: rs.flatMap((r) => r.errors),
      });
    }
  }
  return out;
}

module.exports = { median, summarize };
