// The benchmark scenarios of issue 5. Each returns labelled runs plus a summary line;
// durations and client counts come from the command line (bench/run.ts).
import { createNetns } from '../test/helpers/netns.js';
import { runOnce, type RunOptions, type RunResult } from './lib/harness.js';
import { demoConfig, dependencyCosts, idleProxy } from './lib/memory.js';

export interface ScenarioArgs {
  rampS: number;
  measureS: number;
  /** Overrides the client count of single-count scenarios. */
  clients?: number;
  /** Client counts of the ceiling steps. */
  steps: number[];
  proxyConfig: Record<string, unknown>;
  streamConfig: Record<string, unknown>;
  tsx: boolean;
  /** Another build's cli.js to benchmark (A/B against an older commit). */
  cliPath?: string;
  http: '1.0' | '1.1';
  clientProcs?: number;
  cpuProfDir?: string;
  /** The proxy's node flags (default: src/node-flags.ts's). */
  nodeFlags?: string[];
  /** Extra environment variables of the proxy (MALLOC_ARENA_MAX...). */
  env?: Record<string, string>;
}

export interface ScenarioResult {
  runs: { label: string; result: RunResult }[];
  summary: Record<string, unknown>;
  skipped?: string;
}

type Base = Omit<RunOptions, 'upstream' | 'bitrate' | 'clients'>;
const base = (a: ScenarioArgs, extra: Record<string, unknown> = {}): Base => ({
  rampS: a.rampS, measureS: a.measureS, proxyConfig: { ...a.proxyConfig, ...extra }, streamConfig: a.streamConfig, tsx: a.tsx, cliPath: a.cliPath, http: a.http,
  clientProcs: a.clientProcs, cpuProfDir: a.cpuProfDir, nodeFlags: a.nodeFlags, env: a.env,
});

async function single(label: string, o: RunOptions): Promise<ScenarioResult> {
  const result = await runOnce(o);
  return { runs: [{ label, result }], summary: {} };
}

export const SCENARIOS: Record<string, (a: ScenarioArgs) => Promise<ScenarioResult>> = {
  /** 300 clients x 4 Mbit/s from an HTTP upstream: CPU-s per delivered Gbit. */
  'http-300x4': (a) => single(`${a.clients ?? 300}x4 http`, { ...base(a), upstream: 'http', bitrate: 4e6, clients: a.clients ?? 300 }),

  /** 64 clients x 20 Mbit/s from a multicast group inside a network namespace. */
  'mcast-64x20': async (a) => {
    const ns = createNetns();
    if (typeof ns === 'string') return { runs: [], summary: {}, skipped: ns };
    try {
      return await single(`${a.clients ?? 64}x20 mcast`, { ...base(a), upstream: 'mcast', bitrate: 20e6, clients: a.clients ?? 64, ns });
    } finally {
      ns.delete();
    }
  },

  /** Client ceiling: every step is a fresh proxy with all clients connecting at once. */
  ceiling: async (a) => {
    const runs: ScenarioResult['runs'] = [];
    for (const n of a.steps) {
      runs.push({ label: `${n}x4 http`, result: await runOnce({ ...base(a), upstream: 'http', bitrate: 4e6, clients: n }) });
    }
    const ok = runs.filter((r) => r.result.clientsWithLossTotal === 0 && r.result.failedClients === 0 && r.result.firstMediaMs.max <= 1000);
    return { runs, summary: { mostClientsWithoutLossAndFirstByteWithin1s: ok.length ? Math.max(...ok.map((r) => r.result.clients)) : 0 } };
  },

  /** Peak RSS at 600 clients, and memory per extra client from 300 vs 600. */
  'rss-600': async (a) => {
    const hi = a.clients ?? 600;
    const lo = Math.floor(hi / 2);
    const r1 = await runOnce({ ...base(a), upstream: 'http', bitrate: 4e6, clients: lo });
    const r2 = await runOnce({ ...base(a), upstream: 'http', bitrate: 4e6, clients: hi });
    const perClientKB = Math.round(((r2.proxyPeakRssMB - r1.proxyPeakRssMB) * 1024) / (hi - lo));
    const privatePerClientKB = Math.round(((r2.proxyPeakRssAnonMB - r1.proxyPeakRssAnonMB) * 1024) / (hi - lo));
    return {
      runs: [{ label: `${lo}x4 http`, result: r1 }, { label: `${hi}x4 http`, result: r2 }],
      summary: { peakRssMB: r2.proxyPeakRssMB, peakPrivateMB: r2.proxyPeakRssAnonMB, rssPerExtraClientKB: perClientKB, privatePerExtraClientKB: privatePerClientKB },
    };
  },

  /** 100 reading clients plus 10 that never read: readers lose nothing, memory stays bounded. */
  stalled: async (a) => {
    const n = a.clients ?? 100;
    const r0 = await runOnce({ ...base(a), upstream: 'http', bitrate: 4e6, clients: n });
    const r1 = await runOnce({ ...base(a), upstream: 'http', bitrate: 4e6, clients: n, stalled: 10 });
    return {
      runs: [{ label: `${n} readers`, result: r0 }, { label: `${n} readers + 10 stalled`, result: r1 }],
      summary: {
        readersWithLoss: r1.clientsWithLossTotal, rssWithoutStalledMB: r0.proxyPeakRssMB, rssWithStalledMB: r1.proxyPeakRssMB,
        stalledConnected: r1.stalledClients?.connected, stalledClosedByProxy: r1.stalledClients?.closedByProxy,
      },
    };
  },

  /** The status page's cost: 300 clients x 4 Mbit/s without it, then with 50 page viewers on Server-Sent Events. */
  status: async (a) => {
    const n = a.clients ?? 300;
    const r0 = await runOnce({ ...base(a), upstream: 'http', bitrate: 4e6, clients: n });
    const r1 = await runOnce({ ...base(a), upstream: 'http', bitrate: 4e6, clients: n, statusSubscribers: 50 });
    return {
      runs: [{ label: `${n}x4 no status page`, result: r0 }, { label: `${n}x4 + 50 status viewers`, result: r1 }],
      summary: {
        cpuSPerGbitWithout: r0.cpuSPerGbit, cpuSPerGbitWith: r1.cpuSPerGbit,
        p99WithoutMs: r0.latencyMs.p99, p99WithMs: r1.latencyMs.p99,
        clientsWithLoss: r1.clientsWithLossTotal, statusPage: r1.statusPage,
      },
    };
  },

  /** Added latency at 300 clients with the default batching window and with a fixed 5 ms one. */
  latency: async (a) => {
    const n = a.clients ?? 300;
    const r0 = await runOnce({ ...base(a), upstream: 'http', bitrate: 4e6, clients: n });
    // "For those who want less": a fixed 5 ms window (batchmaxms = batchms: no stretching).
    const r1 = await runOnce({ ...base(a, { batchms: 5, batchmaxms: 5 }), upstream: 'http', bitrate: 4e6, clients: n });
    return {
      runs: [{ label: `${n}x4 batchms default`, result: r0 }, { label: `${n}x4 batchms 5 fixed`, result: r1 }],
      summary: { p99DefaultMs: r0.latencyMs.p99, p99Batch5Ms: r1.latencyMs.p99 },
    };
  },

  /**
   * Memory at rest (issue 24): the demo configuration in one process, with `workers: 2`,
   * and with a prometheus and a status resource added; each left --measure seconds after
   * it listens, then sampled 5 times (medians; private = RssAnon, RSS, PSS, MB).
   */
  'memory-idle': async (a) => {
    const o = { settleS: a.measureS, n: 5, cliPath: a.cliPath, nodeFlags: a.nodeFlags, env: a.env };
    const apis = [{ type: 'api', api: 'prometheus', serve: '/metrics' }, { type: 'api', api: 'status', serve: '/status' }];
    const summary: Record<string, unknown> = {};
    summary.demo = await idleProxy(demoConfig(a.proxyConfig), o);
    summary['demo workers:2'] = await idleProxy(demoConfig({ ...a.proxyConfig, workers: 2 }), o);
    summary['demo + prometheus + status'] = await idleProxy(demoConfig(a.proxyConfig, apis), o);
    return { runs: [], summary };
  },

  /** What each runtime dependency costs imported alone in a bare node (medians of 5 runs, minus a bare node's). */
  'memory-deps': async () => {
    const { bare, costs } = await dependencyCosts(5);
    return { runs: [], summary: { bare, ...Object.fromEntries(costs.map(({ dependency, ...c }) => [dependency, c])) } };
  },
};
