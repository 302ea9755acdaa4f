import { readFileSync } from 'node:fs';

/** File descriptors a process needs besides clients and upstreams (logs, sockets, pipes, Node's own). */
const BASE_FDS = 64;

/** The soft and hard RLIMIT_NOFILE of this process (Linux), or undefined where unknown. */
export function openFileLimit(): { soft: number; hard: number } | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const m = line && /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(line);
    if (!m) return undefined;
    const n = (v: string) => (v === 'unlimited' ? Infinity : Number(v));
    return { soft: n(m[1]!), hard: n(m[2]!) };
  } catch {
    return undefined;
  }
}

/**
 * A warning when `maxconnections` clients plus the upstreams cannot all have a file
 * descriptor under the open-file limit, with the fix; undefined when they fit (or the
 * limit is unknown, or there is no hard limit on clients to compare with).
 */
export function fdLimitWarning(maxConnections: number, upstreams: number, limit = openFileLimit()): string | undefined {
  if (!limit || maxConnections <= 0) return undefined;
  const need = maxConnections + upstreams + BASE_FDS;
  if (need <= limit.soft) return undefined;
  return `maxconnections (${maxConnections}) plus ${upstreams} upstream(s) need about ${need} file descriptors, but the open-file limit is ${limit.soft}` +
    ` (hard limit ${limit.hard === Infinity ? 'unlimited' : limit.hard}): clients beyond it are refused at accept. Raise it: LimitNOFILE=${Math.max(need, 65536)} in the systemd unit, \`ulimit -n ${need}\` in the shell, or --ulimit nofile=${need} for a container.`;
}
