// Signals as operators send them: SIGUSR1 (the original's log rotation) and SIGHUP reopen
// the log file, in one process and with workers, and no signal ever opens a port: Node's
// default SIGUSR1 action would start its inspector on 127.0.0.1:9229, a debug port that
// runs any code it is sent.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { childPids } from '../helpers/procs.js';
import { CLI, ProxyProcess, ROOT, TSX, writeConfig } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';

const cleanups: (() => unknown)[] = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

/** The proxy's process and its children (workers). */
const family = (pid: number): number[] => [pid, ...childPids(pid, { nodeOnly: false })];

/** TCP ports in LISTEN state held by any of `pids` (from their fds and /proc/net/tcp{,6}). */
function listeningPorts(pids: number[]): Set<number> {
  const inodes = new Set<string>();
  for (const pid of pids) {
    let fds: string[] = [];
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      } catch { /* closed meanwhile */ }
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = readFileSync(table, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is f[1] ("ADDR:PORT" in hex), st is f[3] ("0A" = LISTEN), inode f[9].
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9]!)) ports.add(parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

async function rotatesOn(p: ProxyProcess, logFile: string, signal: NodeJS.Signals, pids: number[]): Promise<void> {
  const rotated = `${logFile}.${signal}`;
  renameSync(logFile, rotated);
  for (const pid of pids) process.kill(pid, signal);
  // Every process reopens: the primary logs the reopen itself; workers create the file
  // on their next line, so wait for the primary's line in the new file.
  await until(() => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('"log_reopen"'), 10000, `a new log file after ${signal}`);
  assert.equal(p.exitCode, null, `the proxy survives ${signal}`);
  for (const pid of pids) assert.doesNotThrow(() => process.kill(pid, 0), `process ${pid} survives ${signal}`);
}

for (const workers of [1, 2]) {
  test(`workers: ${workers} — SIGUSR1 and SIGHUP reopen the log; no signal opens a debug port`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rs-signals-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const logFile = join(dir, 'restreamer.log');
    const cfgPath = writeConfig({ listen: '127.0.0.1:0', workers, log: logFile, resources: [{ type: 'api', api: 'health', serve: '/health' }] }, dir);
    const p = new ProxyProcess(spawn(process.execPath, ['--import', TSX, CLI, cfgPath], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }), cfgPath);
    cleanups.push(() => p.stop());
    const listenLine = () => readFileSync(logFile, 'utf8').split('\n').find((l) => l.includes('"evt":"listen"'));
    await until(() => existsSync(logFile) && listenLine() !== undefined, 15000, 'listen line in the log file');
    p.port = (JSON.parse(listenLine()!) as { port: number }).port;
    const pids = workers > 1 ? family(p.proc.pid!) : [p.proc.pid!];
    if (workers > 1) await until(() => (family(p.proc.pid!).length > workers), 10000, 'workers');
    const all = family(p.proc.pid!);
    const before = listeningPorts(all);
    assert.ok(before.has(p.port), `listens on its port (${[...before].join(', ')})`);

    await rotatesOn(p, logFile, 'SIGUSR1', pids);
    await rotatesOn(p, logFile, 'SIGHUP', pids);

    // Give an inspector every chance to show up, then compare.
    const after = listeningPorts(family(p.proc.pid!));
    assert.deepEqual([...after].sort(), [...before].sort(), 'no new listening port after the signals');
    assert.ok(!after.has(9229));
    assert.doesNotMatch(p.stderr, /Debugger listening/);
  });
}
