// The primary's side of the IPC channel: admission, viewers, on-demand starts and counter
// collection, answered from the configuration running here; a worker that exits gives back
// what its clients held. Fake workers and fake time: no process is needed here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigSchema } from '../../../src/config/schema.js';
import type { Stream } from '../../../src/stream/stream.js';
import { WorkerCounters } from '../../../src/cluster/counters.js';
import { PrimaryRpc, type RpcHost } from '../../../src/cluster/primary-rpc.js';
import type { PoolWorker } from '../../../src/cluster/pool.js';
import type { PrimaryMessage, WorkerStreamCounters } from '../../../src/cluster/protocol.js';
import { SlotTable } from '../../../src/cluster/slots.js';
import { FakeClock } from '../../helpers/clock.js';

function setup(limit = 2) {
  const cfg = ConfigSchema.parse({ resources: [{ type: 'stream', serve: '/a', remote: 'http://x/a' }, { type: 'stream', serve: '/b', remote: 'http://x/b' }] });
  let held = 0;
  const viewers = new Map<string, number>();
  const demanded: string[] = [];
  const stream = (name: string, up: boolean) => ({
    viewerJoined: () => { viewers.set(name, (viewers.get(name) ?? 0) + 1); },
    viewerLeft: () => { viewers.set(name, (viewers.get(name) ?? 0) - 1); },
    demand: () => { demanded.push(name); return Promise.resolve(up); },
  }) as unknown as Stream;
  const host: RpcHost = {
    admission: { tryAcquire: () => held < limit && ++held > 0, release: () => { held--; } },
    streams: new Map([['/a', stream('/a', true)], ['/b', stream('/b', false)]]),
  };
  const sent: [number, PrimaryMessage][] = [];
  const counters = new WorkerCounters(2);
  const clock = new FakeClock();
  const rpc = new PrimaryRpc(() => host, new SlotTable(cfg), counters, (w, m) => { sent.push([w.id, m]); }, clock);
  const worker = (id: number, connected = true) => ({ id, admitted: 0, viewers: [0, 0], worker: { isConnected: () => connected } }) as unknown as PoolWorker;
  return { rpc, sent, counters, clock, worker, viewers, demanded, held: () => held };
}

const report = (sent: number): WorkerStreamCounters[] => [{ packetsSent: sent, packetsDropped: 0, clients: 1, clientMs: 0, responses: [[200, 1]] }];

test('acquire: one counter for every worker; refused at the limit and once closed; release gives back only what a worker holds', () => {
  const { rpc, sent, worker, held } = setup(2);
  const a = worker(1);
  const b = worker(2);
  rpc.onMessage(a, { t: 'acquire', id: 1 });
  rpc.onMessage(b, { t: 'acquire', id: 2 });
  rpc.onMessage(b, { t: 'acquire', id: 3 });
  assert.deepEqual(sent, [[1, { t: 'acquired', id: 1, ok: true }], [2, { t: 'acquired', id: 2, ok: true }], [2, { t: 'acquired', id: 3, ok: false }]]);
  assert.equal(b.admitted, 1);
  rpc.onMessage(a, { t: 'release' });
  rpc.onMessage(a, { t: 'release' }); // holds nothing more: not given back twice
  assert.equal(held(), 1);
  rpc.close();
  rpc.onMessage(a, { t: 'acquire', id: 4 });
  assert.deepEqual(sent.at(-1), [1, { t: 'acquired', id: 4, ok: false }]);
});

test('viewers: counted per worker and slot and passed to the stream; a slot that is not ours is ignored', () => {
  const { rpc, worker, viewers } = setup();
  const a = worker(1);
  rpc.onMessage(a, { t: 'viewer', stream: 1, delta: 1 });
  rpc.onMessage(a, { t: 'viewer', stream: 1, delta: 1 });
  rpc.onMessage(a, { t: 'viewer', stream: 0, delta: 1 });
  rpc.onMessage(a, { t: 'viewer', stream: 1, delta: -1 });
  rpc.onMessage(a, { t: 'viewer', stream: 7, delta: 1 });
  rpc.onMessage(a, { t: 'viewer', stream: -1, delta: 1 });
  assert.deepEqual(a.viewers, [1, 1]);
  assert.deepEqual(Object.fromEntries(viewers), { '/a': 1, '/b': 1 });
});

test('demand: the stream of the slot is asked; its answer goes back; no stream there is false', async () => {
  const { rpc, sent, worker, demanded } = setup();
  const a = worker(1);
  rpc.onMessage(a, { t: 'demand', id: 1, stream: 0 });
  rpc.onMessage(a, { t: 'demand', id: 2, stream: 1 });
  rpc.onMessage(a, { t: 'demand', id: 3, stream: 9 });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(demanded, ['/a', '/b']);
  assert.deepEqual(sent.map(([, m]) => m).sort((x, y) => (x as { id: number }).id - (y as { id: number }).id), [
    { t: 'demanded', id: 1, ok: true }, { t: 'demanded', id: 2, ok: false }, { t: 'demanded', id: 3, ok: false },
  ]);
});

test('collect: resolves once every connected worker answered, or after 500 ms; a worker that exits counts as answered', async () => {
  const { rpc, sent, counters, clock, worker } = setup();
  const a = worker(1);
  const b = worker(2);
  const gone = worker(3, false);
  let done = false;
  void rpc.collect([a, b, gone]).then(() => { done = true; });
  assert.deepEqual(sent.map(([id, m]) => [id, m.t]), [[1, 'collect'], [2, 'collect']], 'only connected workers are asked');
  const id = (sent[0]![1] as { id: number }).id;
  rpc.onMessage(a, { t: 'counters', id, streams: report(10) });
  rpc.onMessage(b, { t: 'counters', streams: report(5) }); // a periodic report is not the answer
  await new Promise((r) => setImmediate(r));
  assert.equal(done, false);
  assert.equal(counters.packetsSent(0), 15, 'every report is counted');
  rpc.workerGone(b);
  await new Promise((r) => setImmediate(r));
  assert.equal(done, true);
  // Nobody answers: the wait is bounded.
  let late = false;
  void rpc.collect([a]).then(() => { late = true; });
  clock.tick(499);
  await new Promise((r) => setImmediate(r));
  assert.equal(late, false);
  clock.tick(1);
  await new Promise((r) => setImmediate(r));
  assert.equal(late, true);
  assert.equal(clock.pending, 0, 'no timer left behind');
  assert.equal(await rpc.collect([]).then(() => 'at once'), 'at once');
});

test('workerGone: its admission slots and viewers are given back; its counters are kept (totals never go backwards)', () => {
  const { rpc, worker, viewers, held, counters } = setup(5);
  const a = worker(1);
  rpc.onMessage(a, { t: 'acquire', id: 1 });
  rpc.onMessage(a, { t: 'acquire', id: 2 });
  rpc.onMessage(a, { t: 'viewer', stream: 0, delta: 1 });
  rpc.onMessage(a, { t: 'viewer', stream: 0, delta: 1 });
  rpc.onMessage(a, { t: 'counters', streams: report(42) });
  rpc.workerGone(a);
  assert.equal(held(), 0);
  assert.equal(viewers.get('/a'), 0);
  assert.equal(counters.packetsSent(0), 42);
  assert.equal(counters.clients(0), 0);
});
