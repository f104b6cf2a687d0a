/**
 * `packets: false`: a TLS-only capture. Selection chose the backend as for any capture;
 * no packet hook, ring or queue is made, so nothing accumulates unread. On the eBPF
 * backend it hosts plugins (the TLS plugin) as the packet-capturing backend does.
 */
import type { Backend, BackendStats, PluginHost } from '../backend';
import type { BackendName } from '../selection';

export class NoPackets implements Backend {
  readonly name: BackendName;
  readonly pluginHost?: PluginHost;

  constructor(name: BackendName, batchTimeout: number) {
    this.name = name;
    if (name === 'ebpf') this.pluginHost = { backend: 'ebpf', batchTimeout };
  }

  start(): void {}
  pause(): void {}
  resume(): void {}
  async close(): Promise<void> {}

  stats(): BackendStats {
    return { kernelDrops: 0, ringDrops: 0, userspaceDrops: 0, filtered: null };
  }

  interfaceName(): undefined {
    return undefined;
  }
}
