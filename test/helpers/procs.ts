// Processes as /proc shows them: a proxy's worker processes, a test's children.
import { readdirSync, readFileSync } from 'node:fs';

interface ProcStat { pid: number; ppid: number; state: string; comm: string }

function stat(pid: string): ProcStat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { pid: Number(pid), ppid: Number(rest[1]), state: rest[0] ?? '', comm: s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')) };
  } catch {
    return undefined; // gone meanwhile
  }
}

/**
 * Living children of `parent` (not zombies). `nodeOnly` (default): Node processes only,
 * i.e. a proxy's workers, not the esbuild service tsx may run as another child.
 */
export function childPids(parent: number, opts: { nodeOnly?: boolean; cmdline?: string } = {}): number[] {
  const nodeOnly = opts.nodeOnly ?? true;
  let entries: string[] = [];
  try { entries = readdirSync('/proc'); } catch { return []; }
  const out: number[] = [];
  for (const d of entries) {
    if (!/^\d+$/.test(d)) continue;
    const s = stat(d);
    if (s?.ppid !== parent || s.state === 'Z' || (nodeOnly && s.comm !== 'node')) continue;
    if (opts.cmdline !== undefined) {
      try { if (!readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(opts.cmdline)) continue; } catch { continue; }
    }
    out.push(s.pid);
  }
  return out;
}
