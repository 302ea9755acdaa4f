// Memory at rest (issue 24): the proxy with the demo configuration once it has settled,
// and what each runtime dependency costs when imported alone. Private memory is RssAnon
// (what the process itself allocated); RSS also counts the node binary's file-backed
// pages, shared and not ours to shrink; PSS divides shared pages among their processes.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NODE_FLAGS } from '../../src/node-flags.js';
import { ROOT } from './harness.js';
import { treeMemory, type TreeMemory } from './procfs.js';
import { sleep, start } from './procs.js';

const NODE = process.execPath;
const DEMO_DIR = join(ROOT, 'examples', 'demo');

/** Medians of a few samples, MB. */
export interface MemoryFigures { privateMB: number; rssMB: number; pssMB: number; procs: number; samples: number }

const mb = (kb: number): number => Math.round(kb / 102.4) / 10;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function medians(samples: TreeMemory[]): MemoryFigures {
  return {
    privateMB: mb(median(samples.map((s) => s.privateKb))),
    rssMB: mb(median(samples.map((s) => s.rssKb))),
    pssMB: mb(median(samples.map((s) => s.pssKb))),
    procs: Math.max(0, ...samples.map((s) => s.procs)),
    samples: samples.length,
  };
}

/** `n` samples of a process tree, one a second. */
async function sampleTree(pid: number, n: number): Promise<TreeMemory[]> {
  const out: TreeMemory[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0) await sleep(1000);
    out.push(treeMemory(pid));
  }
  return out;
}

/** The demo configuration (examples/demo) as a file elsewhere: any port, `extra` keys merged in. */
export function demoConfig(extra: Record<string, unknown>, resources: Record<string, unknown>[] = []): string {
  const demo = JSON.parse(readFileSync(join(DEMO_DIR, 'restreamer.json'), 'utf8')) as { resources: Record<string, unknown>[] };
  const media = `${pathToFileURL(join(DEMO_DIR, 'demo.ts')).href}?loop&realtime`;
  const cfg = { listen: '127.0.0.1:0', resources: [...demo.resources.map((r) => ({ ...r, remote: media })), ...resources], ...extra };
  const path = join(mkdtempSync(join(tmpdir(), 'rs-mem-')), 'restreamer.json');
  writeFileSync(path, JSON.stringify(cfg, null, 2));
  return path;
}

/**
 * The proxy at rest: started with `cfgPath`, left `settleS` seconds after it listens (its
 * file upstreams play all the while, no client connects), then sampled `n` times.
 */
export async function idleProxy(cfgPath: string, o: { settleS: number; n: number; cliPath?: string; nodeFlags?: string[]; env?: Record<string, string> }): Promise<MemoryFigures> {
  const cli = o.cliPath ?? join(ROOT, 'dist', 'src', 'cli.js');
  const proxy = start('proxy', NODE, [...(o.nodeFlags ?? NODE_FLAGS), cli, cfgPath], undefined, { cwd: ROOT, env: { ...process.env, ...o.env } });
  try {
    await proxy.next((l) => l.evt === 'listen', 30000, 'proxy listen');
    await sleep(o.settleS * 1000);
    return medians(await sampleTree(proxy.pid, o.n));
  } finally {
    await proxy.stop();
  }
}

/** Private memory and RSS of `node -e "await import(spec)"` (none: a bare node), one run. */
async function importCost(spec: string | undefined): Promise<TreeMemory> {
  const code = 'for (const s of process.argv.slice(1)) await import(s); process.stdout.write(\'{"type":"ready"}\\n\'); setInterval(() => {}, 1e6);';
  const specs = spec === undefined ? [] : spec.split('+');
  const child = start('import', NODE, [...NODE_FLAGS, '--input-type=module', '-e', code, ...specs], undefined, { cwd: ROOT });
  try {
    await child.next((l) => l.type === 'ready', 30000, `import ${spec ?? '(nothing)'}`);
    // Let start-up garbage be collected as it would be in a running process.
    await sleep(1500);
    return treeMemory(child.pid);
  } finally {
    await child.stop();
  }
}

/** The runtime dependencies (and zod/mini, the lighter zod), alone and all together. */
const DEPENDENCIES = ['zod', 'zod/mini', 'pino', 'pino-pretty', 'prom-client', 'node-unix-socket', 'zod+pino+pino-pretty+prom-client+node-unix-socket'];

export interface DependencyCost { dependency: string; privateMB: number; rssMB: number; pssMB: number }

/**
 * What each dependency costs imported alone: medians over `runs` child processes, minus a
 * bare node's medians (the runs of every dependency are interleaved, so a change in the
 * machine's load touches all alike).
 */
export async function dependencyCosts(runs: number): Promise<{ bare: MemoryFigures; costs: DependencyCost[] }> {
  const specs: (string | undefined)[] = [undefined, ...DEPENDENCIES];
  const samples = specs.map((): TreeMemory[] => []);
  for (let r = 0; r < runs; r++) {
    for (const [i, spec] of specs.entries()) samples[i]!.push(await importCost(spec));
  }
  const [bare, ...deps] = samples.map(medians);
  const costs = deps.map((d, i) => ({
    dependency: DEPENDENCIES[i]!,
    privateMB: +(d.privateMB - bare!.privateMB).toFixed(1),
    rssMB: +(d.rssMB - bare!.rssMB).toFixed(1),
    pssMB: +(d.pssMB - bare!.pssMB).toFixed(1),
  }));
  return { bare: bare!, costs };
}
