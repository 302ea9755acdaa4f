// Multi-process mode under faults: a worker killed while the primary talks to it, a worker
// stopped (SIGSTOP) while connections arrive, and the primary killed under the workers.
// One worker's death must never take the service down, no connection may hang on a
// worker that cannot answer it, and workers whose primary is gone exit on their own.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import http from 'node:http';
import { StreamClient, type ProxyProcess } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';
import { childPids as workerPids } from '../helpers/procs.js';
import { Scope } from '../helpers/scope.js';
import { ENV_API_SOCKET } from '../../src/cluster/protocol.js';

const scope = new Scope();
after(() => scope.close());

/** Every client request in this file is bounded: a hang is a failure, never a stuck test. */
const REQUEST_TIMEOUT_MS = 12000;

type Answer = { status: number } | { error: string };

/** GET `url` on a new connection; resolves with the status or the error, within the timeout. */
function get(url: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      res.on('error', (e) => resolve({ error: e.message }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout: no answer')));
    req.on('error', (e) => resolve({ error: e.message }));
  });
}

/** GET `url` with `agent` (keep-alive: on a connection a worker already has). */
function getWith(agent: http.Agent, url: string): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      res.on('error', (e) => resolve({ error: e.message }));
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('timeout: no answer')));
    req.on('error', (e) => resolve({ error: e.message }));
  });
}

/** `pid`'s process state letter from /proc, or undefined when it is gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch { return undefined; }
}

/** Gone or a zombie (an orphan whose reaper is slow): it has exited either way. */
function exited(pid: number): boolean {
  const s = procState(pid);
  return s === undefined || s === 'Z' || s === 'X';
}

/** Make sure no process this test stopped or orphaned outlives it. */
function reap(pids: number[]): void {
  for (const pid of pids) {
    if (exited(pid)) continue;
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

function streamCfg(upUrl: string): Record<string, unknown> {
  return {
    workers: 2, reconnect: 1, resources: [
      { type: 'stream', serve: '/live.ts', remote: upUrl },
      { type: 'api', api: 'health', serve: '/health' },
    ],
  };
}

/** `n` loops of GET /health, each on a new connection, until `stop()`; every answer is kept. */
function flood(p: ProxyProcess, n: number): { answers: Answer[]; stop: () => Promise<void> } {
  const answers: Answer[] = [];
  let running = true;
  const loops = Array.from({ length: n }, async () => {
    while (running && p.exitCode === null && p.exitSignal === null) answers.push(await get(p.url('/health')));
  });
  return { answers, stop: async () => { running = false; await Promise.all(loops); } };
}

test('workers: 2 — kill -9 a worker under a /health flood and during a stream, three times: the primary survives and keeps serving', async () => {
  const up = await scope.paced();
  const p = await scope.proxy(streamCfg(up.url()));
  const primary = p.proc.pid!;
  const seen = new Set<number>();
  scope.defer(() => { try { process.kill(primary, 'SIGCONT'); } catch { /* gone */ } reap([...seen]); });
  const streams = Array.from({ length: 8 }, () => new StreamClient(p.url('/live.ts'), { keep: false }));
  scope.defer(() => { for (const c of streams) c.close(); });
  await Promise.all(streams.map((c) => c.responded));
  await until(() => streams.every((c) => c.bytes > 0), 10000, 'data for every stream client');
  const f = flood(p, 6);
  for (let round = 0; round < 3; round++) {
    const before = workerPids(primary);
    before.forEach((pid) => seen.add(pid));
    assert.equal(before.length, 2, `round ${round}: two workers`);
    const victim = before[round % 2]!;
    const n = f.answers.length;
    await until(() => f.answers.length >= n + 20 || p.exitCode !== null, 10000, 'health answers');
    // The race, made certain: the worker dies while the primary is busy (here: stopped),
    // with connections waiting in its accept queue and requests on its API socket, so its
    // next messages to the worker (new connections, counter requests) are written before
    // it has read the worker's exit.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 6 });
    await Promise.all(Array.from({ length: 6 }, () => getWith(agent, p.url('/health'))));
    process.kill(primary, 'SIGSTOP');
    const queued = Array.from({ length: 10 }, () => get(p.url('/health')));
    // Requests on connections the workers already have reach the primary's API socket.
    const onKept = Array.from({ length: 6 }, () => getWith(agent, p.url('/health')));
    await new Promise((r) => setTimeout(r, 300));
    process.kill(victim, 'SIGKILL');
    await until(() => exited(victim), 5000, 'the worker to die');
    process.kill(primary, 'SIGCONT');
    const queuedAnswers = await Promise.all(queued);
    await Promise.all(onKept); // answered, or failed with the dead worker's connection
    agent.destroy();
    await until(() => {
      const now = workerPids(primary);
      return p.exitCode !== null || p.exitSignal !== null || (now.length === 2 && !now.includes(victim));
    }, 15000, 'a replacement worker');
    assert.equal(p.exitCode, null, `round ${round}: the primary is still running; stderr: ${p.stderr.slice(-2000)}`);
    assert.equal(p.exitSignal, null);
    assert.deepEqual(queuedAnswers, queuedAnswers.map(() => ({ status: 200 })), `round ${round}: the connections that waited were served`);
  }
  await f.stop();
  assert.equal(p.exitCode, null, `the primary is still running; stderr: ${p.stderr.slice(-2000)}`);
  // Clients of the surviving worker were never interrupted: they still receive data.
  const alive = streams.filter((c) => !c.ended && c.res && !c.res.destroyed);
  const marks = alive.map((c) => c.bytes);
  await until(() => alive.every((c, i) => c.bytes > marks[i]!), 10000, 'data for the surviving clients');
  // The port is open and new clients are served, by both workers.
  const answers = await Promise.all(Array.from({ length: 10 }, () => get(p.url('/health'))));
  assert.deepEqual(answers, answers.map(() => ({ status: 200 })), 'every new /health request answered 200');
  const fresh = Array.from({ length: 6 }, () => new StreamClient(p.url('/live.ts'), { keep: false }));
  await Promise.all(fresh.map((c) => c.responded));
  for (const c of fresh) assert.equal(c.status, 200);
  await until(() => fresh.every((c) => c.bytes > 0), 10000, 'data for the new clients');
  for (const c of [...fresh, ...streams]) c.close();
  assert.equal(up.requests, 1, 'the upstream connection survived every worker death');
  assert.ok(f.answers.filter((a) => 'status' in a && a.status === 200).length > 60, 'the flood was answered');
  assert.equal(p.logs.filter((l) => String(l.msg).includes('worker died')).length, 3, 'three worker deaths logged');
});

test('workers: 2 — a worker stopped with SIGSTOP is detected, killed and replaced; no new connection hangs', async () => {
  const up = await scope.paced();
  const p = await scope.proxy(streamCfg(up.url()));
  const [victim, other] = workerPids(p.proc.pid!);
  assert.ok(victim && other, 'two workers');
  scope.defer(() => { try { process.kill(victim, 'SIGCONT'); } catch { /* gone */ } reap([victim]); });
  process.kill(victim, 'SIGSTOP');
  // Connections keep arriving while the worker is stopped, before and after its detection;
  // every one of them must be answered, none may hang.
  const answers: Answer[] = [];
  for (let wave = 0; wave < 4; wave++) {
    answers.push(...await Promise.all(Array.from({ length: 6 }, () => get(p.url('/health')))));
    const streams = Array.from({ length: 2 }, () => new StreamClient(p.url('/live.ts'), { keep: false }));
    const timer = setTimeout(() => { for (const c of streams) c.close(); }, REQUEST_TIMEOUT_MS);
    await Promise.all(streams.map((c) => c.responded));
    clearTimeout(timer);
    for (const c of streams) { answers.push(c.status ? { status: c.status } : { error: 'no answer' }); c.close(); }
  }
  assert.deepEqual(answers, answers.map(() => ({ status: 200 })), 'every connection answered 200');
  await until(() => exited(victim), 10000, 'the stopped worker to be killed');
  await until(() => { const now = workerPids(p.proc.pid!); return now.length === 2 && !now.includes(victim); }, 10000, 'a replacement worker');
  const logged = await p.waitLog((l) => String(l.msg).includes('unresponsive'), 5000);
  assert.equal(logged.worker !== undefined, true, 'the log names the worker');
  const after = await Promise.all(Array.from({ length: 6 }, () => get(p.url('/health'))));
  assert.deepEqual(after, after.map(() => ({ status: 200 })));
  assert.equal(p.exitCode, null);
});

test('workers: 2 — SIGKILL to the primary: the workers end their clients and exit on their own, without an error', async () => {
  const up = await scope.paced();
  const p = await scope.proxy(streamCfg(up.url()));
  const pids = workerPids(p.proc.pid!);
  assert.equal(pids.length, 2);
  scope.defer(() => reap(pids));
  // A primary killed with SIGKILL cannot remove its internal socket's folder: this test does.
  const apiSocket = readFileSync(`/proc/${pids[0]!}/environ`, 'latin1').split('\0').find((e) => e.startsWith(`${ENV_API_SOCKET}=`))?.slice(ENV_API_SOCKET.length + 1);
  assert.ok(apiSocket, 'the workers know the internal socket');
  scope.defer(() => { rmSync(dirname(apiSocket), { recursive: true, force: true }); });
  const streams = Array.from({ length: 40 }, () => new StreamClient(p.url('/live.ts'), { keep: false }));
  scope.defer(() => { for (const c of streams) c.close(); });
  await Promise.all(streams.map((c) => c.responded));
  await until(() => streams.every((c) => c.bytes > 0), 10000, 'data for every client');
  // The workers' stdio is the primary's: it closes when the last of them has exited.
  const stderrClosed = new Promise<void>((r) => p.proc.stderr!.once('close', () => r()));
  p.proc.kill('SIGKILL');
  await p.exited;
  await until(() => pids.every(exited), 10000, 'the workers to exit');
  await Promise.race([stderrClosed, new Promise((r) => setTimeout(r, 5000))]);
  await Promise.all(streams.map((c) => c.done));
  assert.doesNotMatch(p.stderr, /Error|\n\s+at /, 'no error or stack trace from a worker');
  assert.ok(streams.every((c) => c.ended), 'every client was ended cleanly (complete chunked response)');
});
