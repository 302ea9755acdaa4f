import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamHub } from '../../../src/hub/hub.js';
import { PacketRing } from '../../../src/hub/ring.js';
import { makeStream, seqs, PKT } from '../../helpers/packets.js';
import { busySink, RecordingSink } from '../../helpers/sinks.js';
import { FakeClock } from '../../helpers/clock.js';


test('ring wraps and copies out exactly', () => {
  const r = new PacketRing(10);
  const s = makeStream(25);
  r.write(s, 0, 7);
  r.write(s, 7 * PKT, 8);
  assert.equal(r.head, 15);
  assert.equal(r.tail, 5);
  assert.deepEqual(seqs(r.copyOut(5, 15)), [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  r.write(s, 15 * PKT, 10);
  assert.deepEqual(seqs(r.copyOut(20, 25)), [20, 21, 22, 23, 24]);
  assert.throws(() => r.copyOut(14, 16), RangeError);
  // More than capacity in one write keeps the newest.
  const r2 = new PacketRing(4);
  r2.write(s, 0, 9);
  assert.deepEqual(seqs(r2.copyOut(5, 9)), [5, 6, 7, 8]);
});

test('clients at the live edge share one buffer per flush and get every packet in order', () => {
  const hub = new StreamHub({ outputBufferPackets: 100, batchMs: 1000, start: 'live' });
  const a = new RecordingSink();
  const b = new RecordingSink();
  hub.addClient(a);
  hub.addClient(b);
  const s = makeStream(30);
  hub.push(s, 0, 10);
  hub.push(s, 10 * PKT, 5);
  hub.flush();
  hub.push(s, 15 * PKT, 15);
  hub.flush();
  assert.equal(a.chunks.length, 2, 'one write per flush');
  assert.equal(a.chunks[0], b.chunks[0], 'same buffer object handed to both');
  assert.deepEqual(seqs(a.all()), Array.from({ length: 30 }, (_, i) => i));
  assert.deepEqual(a.all(), b.all());
  assert.equal(hub.packetsSent, 60);
  hub.close();
});

test('flushes early once flushBytes accumulate', () => {
  const hub = new StreamHub({ outputBufferPackets: 100, batchMs: 10000, flushBytes: 10 * PKT, start: 'live' });
  const a = new RecordingSink();
  hub.addClient(a);
  const s = makeStream(25);
  for (let i = 0; i < 25; i++) hub.push(s, i * PKT, 1);
  assert.equal(a.chunks.length, 2);
  assert.deepEqual(seqs(a.all()), Array.from({ length: 20 }, (_, i) => i));
  hub.close();
});

test('a stalled client loses the oldest data, counted exactly; others lose nothing', () => {
  const hub = new StreamHub({ outputBufferPackets: 20, batchMs: 1000, start: 'live' });
  const slow = new RecordingSink();
  const fast = new RecordingSink();
  const cs = hub.addClient(slow);
  hub.addClient(fast);
  slow.accept = false;
  const s = makeStream(100);
  for (let i = 0; i < 10; i++) { hub.push(s, i * 10 * PKT, 10); hub.flush(); }
  assert.deepEqual(seqs(fast.all()), Array.from({ length: 100 }, (_, i) => i));
  // slow took the first batch (write returned false), then waited.
  assert.deepEqual(seqs(slow.all()), Array.from({ length: 10 }, (_, i) => i));
  slow.accept = true;
  hub.drained(cs);
  const got = seqs(slow.all());
  // After the drop it resumes with the newest 20 packets, in order.
  assert.deepEqual(got.slice(10), Array.from({ length: 20 }, (_, i) => 80 + i));
  assert.equal(cs.packetsDropped, 70);
  assert.equal(hub.packetsDropped, 70);
  assert.equal(cs.packetsSent + cs.packetsDropped, 100);
  // Caught up: it shares the next batch again.
  hub.push(s, 0, 5);
  hub.flush();
  assert.equal(slow.chunks.at(-1), fast.chunks.at(-1));
  hub.close();
});

test('endAll ends every client with the reason; removed clients get nothing more', () => {
  const hub = new StreamHub({ outputBufferPackets: 20, batchMs: 0, start: 'live' });
  const a = new RecordingSink();
  const b = new RecordingSink();
  const ca = hub.addClient(a);
  hub.addClient(b);
  hub.removeClient(ca);
  hub.push(makeStream(3), 0, 3);
  assert.equal(a.chunks.length, 0);
  assert.equal(b.chunks.length, 1);
  hub.endAll('upstream_lost');
  assert.equal(b.ended, 'upstream_lost');
  assert.equal(a.ended, undefined);
  assert.equal(hub.clientCount, 0);
  hub.close();
});

test('the batch timer bounds latency (node:test mock timers drive a hub on the default clock)', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const hub = new StreamHub({ outputBufferPackets: 100, batchMs: 15, start: 'live' });
  const a = new RecordingSink();
  hub.addClient(a);
  hub.push(makeStream(2), 0, 2);
  assert.equal(a.chunks.length, 0);
  t.mock.timers.tick(14);
  assert.equal(a.chunks.length, 0, 'not before the window ends');
  t.mock.timers.tick(1);
  assert.equal(a.chunks.length, 1, 'sent when the window ends');
  hub.close();
});

test('the batch window stretches while writing a batch is expensive and returns to batchms when it is cheap', () => {
  const clock = new FakeClock();
  const hub = new StreamHub({ outputBufferPackets: 1000, batchMs: 10, maxBatchMs: 40, start: 'live', clock });
  const cost = { ms: 4 };
  hub.addClient(busySink(cost, clock));
  const s = makeStream(100);
  let i = 0;
  // One packet and a flush per round, with the event loop idle in between (not saturated).
  const round = () => { hub.push(s, (i++ % 100) * PKT, 1); hub.flush(); clock.tick(5); };
  assert.equal(hub.batchWindowMs, 10);
  for (let k = 0; k < 10; k++) round();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the rounds moved the window; assert.equal(hub.batchWindowMs, 10) above narrowed its type to 10
  assert.ok(hub.batchWindowMs > 10 && hub.batchWindowMs <= 40, `stretched to ${hub.batchWindowMs} ms`);
  cost.ms = 0;
  for (let k = 0; k < 30; k++) round();
  assert.equal(hub.batchWindowMs, 10, 'back to batchms once flushes are cheap');
  hub.close();
});

test('a saturated event loop stretches the window to its maximum, and the timer waits that long', () => {
  const clock = new FakeClock();
  const hub = new StreamHub({ outputBufferPackets: 1000, batchMs: 10, maxBatchMs: 40, start: 'live', clock });
  const sink = busySink({ ms: 3 }, clock);
  hub.addClient(sink);
  const s = makeStream(100);
  clock.tick(1);
  // Back-to-back flushes in one callback: the loop is busy all the time.
  for (let k = 0; k < 5; k++) { hub.push(s, k * PKT, 1); hub.flush(); }
  assert.equal(hub.batchWindowMs, 40);
  const before = sink.writes;
  hub.push(s, 5 * PKT, 1);
  clock.tick(39);
  assert.equal(sink.writes, before, 'nothing sent before the stretched window ends');
  clock.tick(1);
  assert.equal(sink.writes, before + 1, 'sent once the window ended');
  hub.close();
});

test('maxBatchMs equal to batchMs keeps the window fixed however expensive flushes are', () => {
  const clock = new FakeClock();
  const hub = new StreamHub({ outputBufferPackets: 1000, batchMs: 10, maxBatchMs: 10, start: 'live', clock });
  hub.addClient(busySink({ ms: 3 }, clock));
  const s = makeStream(10);
  for (let k = 0; k < 5; k++) { hub.push(s, k * PKT, 1); hub.flush(); }
  assert.equal(hub.batchWindowMs, 10);
  hub.close();
});
