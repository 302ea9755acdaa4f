// Markdown table of benchmark result files, for docs/benchmarks.md:
//   node --import tsx bench/table.ts bench/results/*.json
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { RunResult } from './lib/harness.js';

const f = (x: number | undefined, d = 2): string => (x !== undefined && Number.isFinite(x) ? x.toFixed(d) : '-');
const rows: string[] = [
  '| file | run | proxy CPU s (user/sys) | delivered Gbit/s | CPU-s per Gbit | clients with loss (run / window) | failed | latency p50 / p99 ms | TTFB max ms | first TS byte max ms | peak MB private / RSS / PSS | load 1m | source late max ms |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
for (const file of process.argv.slice(2)) {
  const j = JSON.parse(readFileSync(file, 'utf8')) as { runs: { label: string; result: RunResult }[]; skipped?: string };
  if (j.skipped) rows.push(`| ${basename(file)} | skipped: ${j.skipped} |||||||||||`);
  for (const { label, result: r } of j.runs) {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- older result files lack loadavg and sourceMaxLateMs
    rows.push(`| ${basename(file, '.json')} | ${label} | ${f(r.proxyCpuS.total)} (${f(r.proxyCpuS.user)}/${f(r.proxyCpuS.sys)}) | ${f(r.deliveredGbps, 3)} | ${f(r.cpuSPerGbit, 3)} | ${r.clientsWithLossTotal} / ${r.clientsWithLossWindow} of ${r.clients} | ${r.failedClients} | ${f(r.latencyMs.p50, 1)} / ${f(r.latencyMs.p99, 1)} | ${f(r.ttfbMs.max, 0)} | ${f(r.firstMediaMs.max, 0)} | ${f(r.proxyPeakRssAnonMB, 1)} / ${f(r.proxyPeakRssMB, 1)} / ${f(r.proxyPeakPssMB, 1)} | ${r.loadavg ? r.loadavg.join('→') : '-'} | ${r.sourceMaxLateMs ?? Math.round(Number(r.source?.maxLateMs ?? NaN))} |`);
  }
}
process.stdout.write(rows.join('\n') + '\n');
