// The worker pool with real worker processes (a stand-in that speaks the protocol,
// test/fixtures/cluster/pool-worker.ts) on fake time: the heartbeat, the start-up
// watchdog and the replacement pause are driven by the test's clock, never by sleeping.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import { createLogger } from '../../../src/log/logger.js';
import { isRestreamerError } from '../../../src/errors.js';
import { PING_MS, STARTUP_MS, UNRESPONSIVE_MS, WorkerPool, type PoolEvents, type PoolWorker } from '../../../src/cluster/pool.js';
import type { WorkerMessage } from '../../../src/cluster/protocol.js';
import { FakeClock } from '../../helpers/clock.js';
import { until } from '../../helpers/wait.js';

cluster.setupPrimary({ exec: join(import.meta.dirname, '..', '..', 'fixtures', 'cluster', 'pool-worker.ts') });

const pools: WorkerPool[] = [];
after(async () => { for (const p of pools) await p.close(); });

/** What the worker echoed back (every message it was sent), by worker id. */
const echoed = new Map<number, string[]>();
cluster.on('message', (w: Worker, m: { t: string; m?: { t: string } }) => {
  if (m.t === 'echo' && m.m) echoed.set(w.id, [...(echoed.get(w.id) ?? []), m.m.t]);
});

function setup(count: number, env: Record<string, string> = {}) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'info', stream: { write(s: string) { lines.push(JSON.parse(s) as Record<string, unknown>); } } }).logger;
  const clock = new FakeClock();
  const seen = { added: [] as PoolWorker[], exited: [] as PoolWorker[], ready: [] as number[], messages: [] as WorkerMessage[], ticks: 0 };
  const events: PoolEvents = {
    env: () => env,
    slots: () => 3,
    added: (w) => { seen.added.push(w); },
    // The stand-in says hello first: configure it, as the primary does.
    message: (w, m) => { seen.messages.push(m); if (m.t === 'hello') pool.send(w, { t: 'config', cfg: {} as never, slots: [], generation: 0 }); },
    ready: (w) => { seen.ready.push(w.id); },
    exited: (w) => { seen.exited.push(w); },
    tick: () => { seen.ticks++; },
  };
  const pool = new WorkerPool(log, count, events, clock);
  pools.push(pool);
  return { pool, clock, lines, seen };
}

/** One heartbeat on fake time; waits until every worker that still answers has answered it. */
async function beat(pool: WorkerPool, clock: FakeClock, answering: (w: PoolWorker) => boolean): Promise<void> {
  clock.tick(PING_MS);
  await until(() => pool.list().filter((w) => w.ready && !w.doomed && answering(w)).every((w) => w.lastSeen === clock.now()), 10_000, 'pongs');
}

test('start forks the workers and resolves once every one is ready; close ends them all', async () => {
  const { pool, seen } = setup(2);
  await pool.start();
  const ws = pool.list();
  assert.equal(ws.length, 2);
  assert.ok(ws.every((w) => w.ready && w.routable()));
  assert.deepEqual(seen.ready.sort(), ws.map((w) => w.id).sort());
  assert.deepEqual(ws[0]!.viewers, [0, 0, 0], 'a viewer count per stream slot');
  await pool.close();
  assert.ok(ws.every((w) => w.worker.isDead()));
  assert.deepEqual(seen.exited.map((w) => w.id).sort(), ws.map((w) => w.id).sort());
  assert.ok(ws.every((w) => echoed.get(w.id)?.includes('shutdown')), 'told to shut down, not killed');
  await pool.close(); // idempotent
});

test('heartbeat: every ready worker is pinged; one silent for 3 s is killed and replaced, the others are not', async () => {
  const { pool, clock, lines, seen } = setup(2);
  await pool.start();
  const [muted, healthy] = pool.list() as [PoolWorker, PoolWorker];
  await beat(pool, clock, () => true);
  assert.ok(echoed.get(healthy.id)?.includes('ping'));
  muted.worker.send({ t: 'test-mute' });
  await until(() => echoed.get(muted.id)?.includes('test-mute') ?? false, 10_000, 'mute');
  const mutedAt = muted.lastSeen;
  while (clock.now() - mutedAt <= UNRESPONSIVE_MS) {
    assert.equal(muted.doomed, false, 'not killed before 3 s of silence');
    await beat(pool, clock, (w) => w !== muted);
  }
  assert.equal(muted.doomed, true);
  assert.equal(healthy.doomed, false);
  assert.ok(!muted.routable(), 'no connection for a worker being killed');
  assert.ok(lines.some((l) => l.worker === muted.id && String(l.msg).includes('unresponsive')));
  await until(() => seen.exited.includes(muted), 10_000, 'killed worker exited');
  assert.equal(muted.worker.process.signalCode, 'SIGKILL');
  // It had run long enough: replaced at once (the next timer), not after the pause.
  clock.tick(1);
  await until(() => pool.list().length === 2 && pool.list().every((w) => w.ready), 10_000, 'replacement ready');
  assert.ok(!pool.list().includes(muted) && pool.list().includes(healthy));
  assert.ok(seen.ticks > 0, 'the primary hears every heartbeat');
});

test('a worker that dies young is replaced only after a 1 s pause', async () => {
  const { pool, clock, seen } = setup(1);
  await pool.start();
  const [w] = pool.list() as [PoolWorker];
  w.worker.process.kill('SIGKILL');
  await until(() => seen.exited.includes(w), 10_000, 'exit');
  clock.tick(999);
  assert.equal(seen.added.length, 1, 'no new worker during the pause');
  clock.tick(1);
  assert.equal(seen.added.length, 2);
  await until(() => pool.list()[0]?.ready ?? false, 10_000, 'replacement ready');
});

test('start-up fails when a worker exits before it is ready', async () => {
  const { pool } = setup(2, { FIXTURE_MODE: 'exit' });
  await assert.rejects(pool.start(), (e) => isRestreamerError(e) && e.code === 'WORKER_START');
});

test('start-up fails when a worker is not ready within 30 s: it is killed', async () => {
  const { pool, clock, seen } = setup(1, { FIXTURE_MODE: 'never-ready' });
  const started = pool.start();
  await until(() => seen.messages.some((m) => m.t === 'configured'), 10_000, 'configured');
  const [w] = pool.list() as [PoolWorker];
  clock.tick(STARTUP_MS);
  assert.equal(w.doomed, false);
  clock.tick(PING_MS);
  assert.equal(w.doomed, true);
  await assert.rejects(started, (e) => isRestreamerError(e) && e.code === 'WORKER_START');
});

test('a primary that did not run for a while judges its workers again from then, instead of killing them all', async () => {
  const { pool, clock } = setup(1);
  await pool.start();
  const [w] = pool.list() as [PoolWorker];
  // Suspended for 10 s: no heartbeat ran meanwhile (time passes with no timer firing).
  clock.work(10_000);
  clock.tick(PING_MS);
  assert.equal(w.doomed, false);
  await until(() => w.lastSeen === clock.now(), 10_000, 'pong');
});
