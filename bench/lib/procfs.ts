// CPU time and memory of a process tree, from /proc (Linux). The proxy may fork worker
// processes, so the tree is re-read on every sample; a process that has gone keeps the
// CPU time it had when last seen (slightly under-counting its last <200 ms).
import { readFileSync, readdirSync } from 'node:fs';

const CLK_TCK = 100; // USER_HZ: 100 on every mainstream Linux build

interface ProcStat { ppid: number; userS: number; sysS: number }

function readStat(pid: number): ProcStat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the parenthesised command name (which may contain spaces).
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), userS: Number(f[11]) / CLK_TCK, sysS: Number(f[12]) / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** VmRSS and RssAnon (RSS minus file-backed pages such as the node binary: the process's private memory), kB. */
function readRssKb(pid: number): [number, number] {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'latin1');
    return [Number(/VmRSS:\s+(\d+) kB/.exec(s)?.[1] ?? 0), Number(/RssAnon:\s+(\d+) kB/.exec(s)?.[1] ?? 0)];
  } catch {
    return [0, 0];
  }
}

/** Proportional set size (shared pages divided among the processes mapping them), kB. */
function readPssKb(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Memory of a process tree now, kB: private (RssAnon), RSS and PSS summed over its live processes. */
export interface TreeMemory { privateKb: number; rssKb: number; pssKb: number; procs: number }

export function treeMemory(root: number): TreeMemory {
  const m: TreeMemory = { privateKb: 0, rssKb: 0, pssKb: 0, procs: 0 };
  for (const p of processTree(root)) {
    const [r, a] = readRssKb(p);
    m.rssKb += r;
    m.privateKb += a;
    m.pssKb += readPssKb(p);
    m.procs++;
  }
  return m;
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const c = readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1').trim();
      if (c) for (const x of c.split(' ')) out.push(Number(x));
    }
  } catch { /* gone */ }
  return out;
}

const PSS_EVERY = 5;

export interface CpuTimes { user: number; sys: number }

/** `root` and all its descendants that are alive now. */
function processTree(root: number): number[] {
  const all: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const p = todo.pop()!;
    if (!readStat(p)) continue;
    all.push(p);
    todo.push(...childrenOf(p));
  }
  return all;
}

/**
 * Samples one or more process trees every `intervalMs`: CPU seconds (user + system,
 * summed over every process ever seen) and memory (summed over the live tree; the peak):
 * RSS, private (RssAnon) and, every PSS_EVERY-th sample, PSS (smaps_rollup walks every
 * mapping, so it is read less often).
 */
export class TreeSampler {
  private readonly lastCpu = new Map<number, ProcStat>();
  private timer: NodeJS.Timeout | undefined;
  peakRssKb = 0;
  peakAnonKb = 0;
  peakPssKb = 0;
  lastRssKb = 0;
  private samples = 0;
  maxProcs = 0;

  constructor(private readonly roots: () => number[], intervalMs = 200) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): void {
    let rss = 0;
    let anon = 0;
    let pss = 0;
    let n = 0;
    const withPss = this.samples++ % PSS_EVERY === 0;
    for (const root of this.roots()) {
      for (const p of processTree(root)) {
        const st = readStat(p);
        if (!st) continue;
        this.lastCpu.set(p, st);
        const [r, a] = readRssKb(p);
        rss += r;
        anon += a;
        if (withPss) pss += readPssKb(p);
        n++;
      }
    }
    this.lastRssKb = rss;
    if (rss > this.peakRssKb) this.peakRssKb = rss;
    if (anon > this.peakAnonKb) this.peakAnonKb = anon;
    if (pss > this.peakPssKb) this.peakPssKb = pss;
    if (n > this.maxProcs) this.maxProcs = n;
  }

  /** CPU seconds so far, user and system (takes a fresh sample first). */
  cpu(): CpuTimes {
    this.sample();
    let user = 0;
    let sys = 0;
    for (const v of this.lastCpu.values()) { user += v.userS; sys += v.sysS; }
    return { user, sys };
  }

  resetPeak(): void { this.peakRssKb = this.lastRssKb; }

  stop(): void { if (this.timer) clearInterval(this.timer); this.timer = undefined; }
}
