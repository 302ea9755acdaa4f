// A throwaway network namespace for multicast tests: its own loopback with multicast
// enabled and the test group ranges routed onto it, so multicast traffic never leaves
// the namespace. Needs root (CAP_SYS_ADMIN); createNetns() says why when it cannot.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface Netns {
  readonly name: string;
  /** Start `cmd args` inside the namespace (no shell). */
  spawn(cmd: string, args: string[], opts?: SpawnOptions): ChildProcess;
  /** Run to completion inside the namespace; resolves with exit code and output. */
  run(cmd: string, args: string[], timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /**
   * Add a veth pair `name` / `name`-peer inside the namespace, up, with IPv6 address
   * `addr` (no duplicate-address wait) on `name`: IPv6 multicast needs a real link (the
   * loopback device does not deliver it). Throws with ip's message when it cannot.
   */
  addVeth(name: string, addr: string): void;
  /** Kill every process still in the namespace and delete it. Idempotent. */
  delete(): void;
}

let seq = 0;

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 });
}

/**
 * Create `rs-test-<pid>-<n>` with lo up, multicast on, and 239.0.0.0/8 and 232.0.0.0/8
 * (SSM) routed to lo with source 127.0.0.1 (without `src`, datagrams sent on lo carry
 * source 0.0.0.0 and never match a source-specific membership). Returns a string (the
 * reason) when namespaces cannot be created here.
 */
export function createNetns(): Netns | string {
  const name = `rs-test-${process.pid}-${seq++}`;
  try {
    ip(['netns', 'add', name]);
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    return `cannot create a network namespace (needs root / CAP_SYS_ADMIN): ${err.stderr?.toString().trim() || err.message}`;
  }
  let deleted = false;
  const children = new Set<ChildProcess>();
  const del = (): void => {
    if (deleted) return;
    deleted = true;
    process.off('exit', del);
    for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
    // Anything else started in the namespace (e.g. a grandchild) must not outlive it.
    try {
      const pids = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8', timeout: 5000 }).split(/\s+/).filter(Boolean);
      for (const p of pids) { try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ } }
    } catch { /* namespace already gone */ }
    try { ip(['netns', 'del', name]); } catch { /* already gone */ }
  };
  // Also on a crashed test run: never leave a namespace behind.
  process.on('exit', del);
  try {
    ip(['-n', name, 'link', 'set', 'lo', 'up']);
    ip(['-n', name, 'link', 'set', 'lo', 'multicast', 'on']);
    ip(['-n', name, 'route', 'add', '239.0.0.0/8', 'dev', 'lo', 'src', '127.0.0.1']);
    ip(['-n', name, 'route', 'add', '232.0.0.0/8', 'dev', 'lo', 'src', '127.0.0.1']);
  } catch (e) {
    del();
    const err = e as { stderr?: Buffer; message: string };
    return `cannot set up the network namespace: ${err.stderr?.toString().trim() || err.message}`;
  }
  const spawnIn = (cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess => {
    const c = spawn('ip', ['netns', 'exec', name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    children.add(c);
    c.on('exit', () => children.delete(c));
    return c;
  };
  return {
    name,
    spawn: spawnIn,
    run(cmd, args, timeoutMs = 20000) {
      return new Promise((resolve) => {
        const c = spawnIn(cmd, args);
        let stdout = '';
        let stderr = '';
        c.stdout!.on('data', (d: Buffer | string) => { stdout += String(d); });
        c.stderr!.on('data', (d: Buffer | string) => { stderr += String(d); });
        const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
        c.on('close', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
      });
    },
    addVeth(link, addr) {
      ip(['-n', name, 'link', 'add', link, 'type', 'veth', 'peer', 'name', `${link}p`]);
      ip(['-n', name, 'link', 'set', link, 'up']);
      ip(['-n', name, 'link', 'set', `${link}p`, 'up']);
      ip(['-n', name, '-6', 'addr', 'add', addr, 'dev', link, 'nodad']);
    },
    delete: del,
  };
}
