// The upstream side of a single process or primary, in-process (no upstream is started):
// what it builds for a configuration, the soft limit's notifications, the drain, and
// what a reload carries over (admission, kept streams, streams switched offline).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Config } from '../../../src/config/schema.js';
import type { Logger } from '../../../src/log/logger.js';
import { UpstreamSide, type UpstreamCarry } from '../../../src/roles/upstream.js';
import { Stream } from '../../../src/stream/stream.js';
import { createHub } from '../../../src/stream/create-hub.js';
import { StatusCounts } from '../../../src/metrics/stats.js';
import type { StreamHub } from '../../../src/hub/hub.js';
import { planReload } from '../../../src/reload.js';
import { capturedLogger } from '../../helpers/inproc.js';
import { configOf } from '../../helpers/roles.js';

function side(cfg: Config, log: Logger, carried?: UpstreamCarry<StreamHub>): UpstreamSide<StreamHub> {
  return new UpstreamSide(cfg, log, {
    newStream: (r) => new Stream(r, cfg, log, (clock) => createHub(cfg, r, clock)),
    view: (s) => s,
    responses: (_r, _i, kept) => kept ?? new StatusCounts(),
    clientDetails: true,
    forwardedStatus: false,
  }, carried);
}

const streamA = { type: 'stream', serve: '/a.ts', remote: 'http://127.0.0.1:9/a.ts' };
const streamB = { type: 'stream', serve: '/b.ts', remote: 'http://127.0.0.1:9/b.ts' };

test('a stream and a response count per stream resource; metrics and the status page only when a resource serves them', async () => {
  const { log } = capturedLogger();
  const bare = side(await configOf({ resources: [streamA, streamB, { type: 'api', api: 'health', serve: '/health' }] }), log);
  assert.deepEqual([...bare.streams.keys()], ['/a.ts', '/b.ts']);
  assert.deepEqual([...bare.responses.keys()], ['/a.ts', '/b.ts']);
  assert.equal(bare.metrics, undefined);
  assert.equal(bare.status, undefined);
  assert.equal(bare.api.streams, bare.streams, 'the APIs see the streams');
  assert.equal(bare.forwardedStatus, false);
  bare.close();
  const full = side(await configOf({ resources: [streamA, { type: 'api', api: 'prometheus', serve: '/m' }, { type: 'api', api: 'status', serve: '/s' }] }), log);
  assert.ok(full.metrics);
  assert.ok(full.status?.onClient, 'this process holds the clients: the page lists them');
  full.close();
});

test('the soft limit: limit_hit when reached, limit_miss when back below, each logged once', async () => {
  const { log, lines } = capturedLogger();
  const u = side(await configOf({ fullconnections: 2, resources: [streamA] }), log);
  const events = () => lines.filter((l) => l.evt === 'notify').map((l) => l.event);
  assert.ok(u.admission.tryAcquire());
  assert.deepEqual(events(), []);
  assert.ok(u.admission.tryAcquire());
  assert.deepEqual(events(), ['limit_hit']);
  u.admission.release();
  assert.deepEqual(events(), ['limit_hit', 'limit_miss']);
  u.admission.release();
  assert.deepEqual(events(), ['limit_hit', 'limit_miss']);
  u.close();
});

test('drain: reported at once (health\'s draining), done when the last viewer leaves, or when the time is up', async (t) => {
  const { log, lines } = capturedLogger();
  const u = side(await configOf({ resources: [streamA] }), log);
  t.after(() => u.close());
  const draining = (): boolean | undefined => u.api.draining?.();
  assert.equal(draining(), false);
  await u.drain(60_000); // nobody watching: at once
  assert.equal(draining(), true);
  assert.ok(lines.some((l) => l.evt === 'shutdown' && l.connections === 0));

  const v = side(await configOf({ resources: [streamA] }), log);
  t.after(() => v.close());
  assert.ok(v.admission.tryAcquire());
  let done = false;
  const leaving = v.drain(60_000).then(() => { done = true; });
  await Promise.resolve();
  assert.equal(done, false, 'a viewer is still watching');
  v.admission.release();
  await leaving;

  t.mock.timers.enable({ apis: ['setTimeout'] });
  const w = side(await configOf({ resources: [streamA] }), log);
  t.after(() => w.close());
  assert.ok(w.admission.tryAcquire());
  let timedOut = false;
  const waiting = w.drain(5000).then(() => { timedOut = true; });
  t.mock.timers.tick(4999);
  await Promise.resolve();
  assert.equal(timedOut, false);
  t.mock.timers.tick(1);
  await waiting;
  assert.equal(w.admission.connections, 1, 'the viewer is ended by close(), not by the drain');
});

test('a reload carries the admission, the kept streams, the offline switches and the draining state', async () => {
  const { log } = capturedLogger();
  const cfg = await configOf({ resources: [streamA, streamB] });
  const u = side(cfg, log);
  const a = u.streams.get('/a.ts')!;
  const b = u.streams.get('/b.ts')!;
  b.setOffline(true);
  u.admission.tryAcquire();
  void u.drain(0);
  const next = await configOf({ resources: [streamA, { ...streamB, remote: 'http://127.0.0.1:9/other.ts' }] });
  const carried = u.carry(planReload(cfg, next));
  const n = side(next, log, carried);
  u.retire(carried.streams);
  assert.equal(n.admission, u.admission);
  assert.equal(n.admission.connections, 1);
  assert.equal(n.streams.get('/a.ts'), a, 'unchanged: kept');
  assert.notEqual(n.streams.get('/b.ts'), b, 'changed: restarted');
  assert.equal(n.streams.get('/b.ts')!.offline, true, 'and still switched offline');
  assert.equal(n.responses.get('/a.ts'), u.responses.get('/a.ts'), 'a kept stream keeps its counts');
  assert.equal(n.api.draining?.(), true);
  n.close();
});
