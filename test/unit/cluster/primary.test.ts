// The primary (src/cluster/primary.ts) with real worker processes (a stand-in that speaks
// the protocol, test/fixtures/cluster/pool-worker.ts) and real client connections, on
// fake time: configuration and slots reach the workers, connections are handed over,
// counters are collected, connection faults are summarised, close cleans up.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { ConfigSchema, type Config } from '../../../src/config/schema.js';
import { createLogger } from '../../../src/log/logger.js';
import { planReload } from '../../../src/reload.js';
import { Primary, type PrimaryHost } from '../../../src/cluster/primary.js';
import { AddressGuard } from '../../../src/auth/guard.js';
import { PING_MS } from '../../../src/cluster/pool.js';
import { FakeClock } from '../../helpers/clock.js';
import { until } from '../../helpers/wait.js';

cluster.setupPrimary({ exec: join(import.meta.dirname, '..', '..', 'fixtures', 'cluster', 'pool-worker.ts') });

const cleanups: (() => unknown)[] = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

/** Every message each worker got (it echoes them) and its pongs, by worker id. */
const echoed = new Map<number, { t: string; slots?: number[]; generation?: number }[]>();
const pongs = new Map<number, number>();
cluster.on('message', (w: Worker, m: { t: string; m?: { t: string } }) => {
  if (m.t === 'echo' && m.m) echoed.set(w.id, [...(echoed.get(w.id) ?? []), m.m]);
  if (m.t === 'pong') pongs.set(w.id, (pongs.get(w.id) ?? 0) + 1);
});
const got = (w: Worker, t: string) => (echoed.get(w.id) ?? []).filter((m) => m.t === t);

const streams = (names: Record<string, string>) => Object.entries(names).map(([serve, remote]) => ({ type: 'stream', serve, remote }));

function setup(workers: number, cfg: Config) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'info', stream: { write(s: string) { lines.push(JSON.parse(s) as Record<string, unknown>); } } }).logger;
  const clock = new FakeClock();
  let held = 0;
  const authGuard = new AddressGuard({ failures: 2, windowMs: 60_000, blockMs: 30_000, nowMs: () => clock.now() });
  const host = { cfg, generation: 0, admission: { tryAcquire: () => ++held > 0, release: () => { held--; } }, streams: new Map(), authGuard } as PrimaryHost;
  let running = host;
  const primary = new Primary(cfg, log, workers, () => running, clock);
  let closedHost = 0;
  const close = () => primary.close(() => { closedHost++; return Promise.resolve(); });
  cleanups.push(close);
  return { primary, clock, lines, close, authGuard, closedHost: () => closedHost, setRunning: (h: PrimaryHost) => { running = h; } };
}

/** The workers of this test's primary, live. */
const live = (before: Set<number>) => Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !before.has(w.id) && !w.isDead());

/** A client request; resolves with what it got when the server closes it. */
function request(port: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const c = net.connect(port, '127.0.0.1', () => c.write('GET / HTTP/1.0\r\n\r\n'));
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', () => {});
    c.on('close', () => resolve(Buffer.concat(chunks).toString()));
  });
}

/** One heartbeat on fake time; waits until every worker answered it (so none is judged silent). */
async function beat(clock: FakeClock, workers: Worker[]): Promise<void> {
  const before = workers.map((w) => pongs.get(w.id) ?? 0);
  clock.tick(PING_MS);
  await until(() => workers.every((w, i) => (pongs.get(w.id) ?? 0) > before[i]!), 10_000, 'pongs');
}

test('start: the workers get the configuration with its slots; connections are served by them; a reload gives them the new slots; counters are collected; close cleans up', async () => {
  const before = new Set(Object.keys(cluster.workers ?? {}).map(Number));
  const cfg = ConfigSchema.parse({ listen: '127.0.0.1:0', workers: 2, resources: streams({ '/a': 'http://x/a', '/b': 'http://x/b' }) });
  const { primary, close, closedHost, setRunning } = setup(2, cfg);
  const addr = (await primary.start()).plain!;
  const ws = live(before);
  assert.equal(ws.length, 2);
  for (const w of ws) assert.deepEqual(got(w, 'config')[0]?.slots, [0, 1]);
  // The worker that got the connection answered it; both take connections.
  const answers = await Promise.all(Array.from({ length: 6 }, () => request(addr.port)));
  const pids = new Set(answers.map((a) => /worker (\d+)/.exec(a)?.[1]));
  assert.deepEqual([...pids].sort(), ws.map((w) => String(w.process.pid)).sort());
  // A reload: /a kept, /b restarted, /c added.
  const next = ConfigSchema.parse({ listen: '127.0.0.1:0', workers: 2, resources: streams({ '/a': 'http://x/a', '/b': 'http://x/b2', '/c': 'http://x/c' }) });
  const { slots, commit } = primary.reloadSlots(planReload(cfg, next), next);
  assert.deepEqual(slots, [0, 2, 3]);
  setRunning({ cfg: next, generation: 1, admission: { tryAcquire: () => true, release: () => {} }, streams: new Map(), authGuard: new AddressGuard({ failures: 0, windowMs: 1, blockMs: 1 }) });
  commit();
  assert.deepEqual(primary.streamSlots, [0, 2, 3]);
  await until(() => ws.every((w) => got(w, 'config').some((m) => m.generation === 1 && m.slots?.join() === '0,2,3')), 10_000, 'new config in every worker');
  // Fresh counters from every worker, summed (each stand-in reports 10 packets on slot 0).
  await primary.link.refresh();
  assert.equal(primary.link.counters.packetsSent(0), 20);
  primary.reopenLogs();
  await until(() => ws.every((w) => got(w, 'reopen').length === 1), 10_000, 'reopen');
  await close();
  assert.ok(ws.every((w) => w.isDead()));
  assert.equal(closedHost(), 1);
  assert.equal(existsSync(dirname(primary.apiSocket)), false, 'the internal socket folder is removed');
  await close();
  assert.equal(closedHost(), 1, 'close is idempotent');
});

test('connection faults: a connection no worker takes is closed; the first is logged at once, then one summary per interval', async () => {
  const before = new Set(Object.keys(cluster.workers ?? {}).map(Number));
  const cfg = ConfigSchema.parse({ listen: '127.0.0.1:0', workers: 2, resources: streams({ '/a': 'http://x/a' }) });
  const { primary, clock, lines, close } = setup(1, cfg);
  const addr = (await primary.start()).plain!;
  const startedAt = clock.now();
  const [w] = live(before) as [Worker];
  w.send({ t: 'test-noack' });
  await until(() => got(w, 'test-noack').length === 1, 10_000, 'noack');
  const faultLines = () => lines.filter((l) => String(l.msg).includes('connection') && l.evt === 'warning');
  for (let n = 1; n <= 2; n++) {
    const state = { closed: false };
    void request(addr.port).then(() => { state.closed = true; });
    await until(() => got(w, 'conn').length === n, 10_000, 'handed over');
    // Never acknowledged: closed once 3 s have passed since it was handed over, not before.
    const handedAt = clock.now();
    while (clock.now() - handedAt <= 3000) {
      assert.equal(state.closed, false, 'not closed before the acknowledgement time');
      await beat(clock, [w]);
    }
    await until(() => state.closed, 10_000, 'closed');
    assert.equal(faultLines().length, 1, 'the first fault at once, the second waits for the summary');
  }
  assert.equal(faultLines()[0]!.connections, 1);
  while (clock.now() - startedAt < 10_000) await beat(clock, [w]);
  const summary = faultLines()[1];
  assert.deepEqual(summary?.since, { dropped: 2 });
  await close();
});

test('brute-force protection: wrong credentials any worker reports are counted once for the instance; a block is told to every worker', async () => {
  const before = new Set(Object.keys(cluster.workers ?? {}).map(Number));
  const cfg = ConfigSchema.parse({ listen: '127.0.0.1:0', workers: 2, resources: streams({ '/a': 'http://x/a' }) });
  const { primary, close, authGuard, clock } = setup(2, cfg);
  await primary.start();
  const [a, b] = live(before) as [Worker, Worker];
  const blocks = (w: Worker) => got(w, 'authblock') as unknown as { key: string; ms: number }[];
  // Two failures (the limit) reported by different workers: no block yet.
  a.send({ t: 'test-authfail', address: '::ffff:192.0.2.5' });
  b.send({ t: 'test-authfail', address: '192.0.2.5' });
  await until(() => got(a, 'test-authfail').length === 1 && got(b, 'test-authfail').length === 1, 10_000, 'reported');
  // Nothing is sent back but blocks; a message after the reports shows that none came.
  await primary.link.refresh();
  assert.equal(authGuard.blockedMs('192.0.2.5'), 0);
  // The third, from either worker, blocks the address in both.
  b.send({ t: 'test-authfail', address: '192.0.2.5' });
  await until(() => blocks(a).length === 1 && blocks(b).length === 1, 10_000, 'block told to every worker');
  for (const w of [a, b]) assert.deepEqual(blocks(w).map((m) => ({ key: m.key, ms: m.ms })), [{ key: '192.0.2.5', ms: 30_000 }]);
  assert.equal(authGuard.blockedMs('192.0.2.5'), 30_000);
  assert.equal(authGuard.blockedMs('192.0.2.6'), 0);
  // Junk on the channel is ignored.
  a.send({ t: 'test-authfail', address: 'x'.repeat(100) });
  await until(() => got(a, 'test-authfail').length === 2, 10_000, 'junk reported');
  await primary.link.refresh();
  assert.equal(blocks(a).length, 1);
  // A worker replacing one that died is told of the block in force.
  a.process.kill('SIGKILL');
  await until(() => a.isDead(), 10_000, 'worker dead');
  clock.tick(1000); // pool.ts waits a second before it replaces a worker that died young
  await until(() => live(before).some((w) => w !== b && blocks(w).length === 1), 10_000, 'the new worker got the block');
  const [fresh] = live(before).filter((w) => w !== b) as [Worker];
  assert.equal(blocks(fresh)[0]!.key, '192.0.2.5');
  assert.ok(blocks(fresh)[0]!.ms <= 30_000);
  await close();
});
