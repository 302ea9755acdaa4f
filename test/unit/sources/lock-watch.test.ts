// The lock watch on fake time and fake byte counts: 64 KiB discarded without a packet
// fails at once (just under does not), and the time bounds (readtimeout, the lock time
// with readtimeout 0, silence) as the supervisor had them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RestreamerError } from '../../../src/errors.js';
import { LOCK_BYTES, LockWatch } from '../../../src/sources/lock-watch.js';
import { FakeClock } from '../../helpers/clock.js';

interface Counts { packets: number; bytes: number; discarded: number }

function watch(readTimeoutS: number, o: { noPackets?: boolean; noDiscarded?: boolean } = {}): { w: LockWatch; c: Counts; clock: FakeClock; fails: RestreamerError[] } {
  const clock = new FakeClock();
  const c: Counts = { packets: 0, bytes: 0, discarded: 0 };
  const fails: RestreamerError[] = [];
  const w = new LockWatch({
    clock, readTimeoutS,
    packets: o.noPackets ? undefined : () => c.packets,
    discarded: o.noDiscarded ? undefined : () => c.discarded,
    bytes: () => c.bytes,
    fail: (r) => { fails.push(r); },
  });
  return { w, c, clock, fails };
}

test('64 KiB discarded without an aligned packet fails at that chunk; just under does not', () => {
  const { w, c, fails } = watch(0);
  // Counters from an earlier connection are not this one's.
  c.bytes = c.discarded = 500_000;
  c.packets = 7;
  w.start();
  c.bytes += LOCK_BYTES + 800;
  c.discarded += LOCK_BYTES; // the aligner still looks at the last few hundred bytes
  assert.equal(w.chunk(), false);
  assert.equal(fails.length, 0);
  c.bytes += 1;
  c.discarded += 1;
  assert.equal(w.chunk(), true);
  assert.equal(fails.length, 1);
  assert.equal(fails[0]!.code, 'UPSTREAM_NO_SYNC');
  assert.match(fails[0]!.message, /^65537 bytes without an aligned MPEG-TS packet \(no lock within 64 KiB\)$/);
  c.discarded += 4096;
  assert.equal(w.chunk(), false, 'failed once');
  assert.equal(fails.length, 1);
});

test('a packet delivered: no byte limit (garbage after the lock is the aligner\'s to resync)', () => {
  const { w, c, fails } = watch(0);
  w.start();
  c.packets = 1;
  c.bytes = c.discarded = 10 * LOCK_BYTES;
  assert.equal(w.chunk(), false);
  assert.equal(fails.length, 0);
});

test('without the discarded count every byte before a packet counts; without a packet count the first byte is one', () => {
  const a = watch(0, { noDiscarded: true });
  a.w.start();
  a.c.bytes = LOCK_BYTES;
  assert.equal(a.w.chunk(), false);
  a.c.bytes++;
  assert.equal(a.w.chunk(), true);
  const b = watch(0, { noPackets: true });
  b.w.start();
  b.c.bytes = b.c.discarded = 2 * LOCK_BYTES;
  assert.equal(b.w.chunk(), false);
  assert.equal(b.fails.length, 0);
});

test('stopped, or not started: nothing fails; start() begins a fresh watch', () => {
  const { w, c, clock, fails } = watch(0.5);
  c.bytes = c.discarded = 2 * LOCK_BYTES;
  assert.equal(w.chunk(), false, 'not started');
  w.start();
  w.stop();
  w.stop();
  c.bytes = c.discarded = 4 * LOCK_BYTES;
  assert.equal(w.chunk(), false, 'stopped');
  clock.tick(10_000);
  assert.equal(fails.length, 0);
  w.start();
  assert.equal(w.chunk(), false, 'counted from the new start');
  c.bytes = c.discarded = 6 * LOCK_BYTES;
  assert.equal(w.chunk(), true);
  w.stop();
});

test('readtimeout: bytes without a packet fail as UPSTREAM_NO_SYNC, silence as UPSTREAM_READ_TIMEOUT; packets keep it alive', () => {
  const a = watch(0.4);
  a.w.start();
  for (let t = 0; t < 2000; t += 100) { a.c.packets++; a.c.bytes += 188; a.clock.tick(100); }
  assert.equal(a.fails.length, 0, 'packets flowing');
  for (let t = 0; t < 300; t += 100) { a.c.bytes += 1000; a.clock.tick(100); }
  assert.equal(a.fails.length, 0);
  for (let t = 0; t < 300; t += 100) { a.c.bytes += 1000; a.clock.tick(100); }
  assert.deepEqual(a.fails.map((f) => [f.code, f.message]), [['UPSTREAM_NO_SYNC', 'data but no aligned MPEG-TS packet for 0.4 s']]);
  a.clock.tick(5000);
  assert.equal(a.fails.length, 1, 'once');
  const b = watch(0.4);
  b.w.start();
  b.clock.tick(300);
  assert.equal(b.fails.length, 0);
  b.clock.tick(200);
  assert.deepEqual(b.fails.map((f) => f.code), ['UPSTREAM_READ_TIMEOUT']);
});

test('readtimeout 0: bytes without a packet fail after the lock time (5 s); silence is waited for', () => {
  const a = watch(0);
  a.w.start();
  for (let t = 0; t < 4900; t += 100) { a.c.bytes += 100; a.c.discarded += 100; a.clock.tick(100); }
  assert.equal(a.fails.length, 0);
  for (let t = 0; t < 1100; t += 100) { a.c.bytes += 100; a.c.discarded += 100; a.clock.tick(100); }
  assert.deepEqual(a.fails.map((f) => [f.code, f.message]), [['UPSTREAM_NO_SYNC', 'data but no aligned MPEG-TS packet for 5 s']]);
  const b = watch(0);
  b.w.start();
  b.clock.tick(120_000);
  assert.equal(b.fails.length, 0);
  b.w.stop();
});
