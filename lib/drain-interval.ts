/**
 * How often a BPF ring's reader drains it when no wake-up came, so that no record waits
 * longer than `batchTimeout`. libuv counts timers in whole milliseconds from a clock it
 * reads once per loop turn, so a repeating timer fires up to a millisecond after its
 * period (measured here: a 10 ms repeating timer's intervals were 10.2 ms at the median,
 * 10.5 at p99, 10.9 at most); one millisecond less keeps every wait within the bound.
 */
export function drainInterval(batchTimeout: number): number {
  return Math.max(1, batchTimeout - 1);
}
