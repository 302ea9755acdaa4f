import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWindow } from '../../../src/hub/batch-window.js';
import { FakeClock } from '../../helpers/clock.js';

const PKT = 188;

/** A window and a record of its flushes; `flush(ms)` is one flush that keeps the loop busy `ms`. */
function setup(opts: ConstructorParameters<typeof BatchWindow>[0]) {
  const clock = new FakeClock();
  let due = 0;
  const w = new BatchWindow(opts, clock, () => { due++; });
  const flush = (ms: number): void => { const t0 = w.flushStarted(); clock.work(ms); w.flushEnded(t0); };
  return { clock, w, flush, dues: () => due };
}

test('flushes at once when flushBytes have accumulated, or always with batchms 0', () => {
  const { w } = setup({ batchMs: 20, flushBytes: 10 * PKT });
  assert.equal(w.flushPackets, 10);
  assert.equal(w.due(9), false);
  assert.equal(w.due(10), true);
  assert.equal(setup({ batchMs: 0 }).w.due(1), true);
  assert.equal(setup({ batchMs: 20 }).w.flushPackets, Math.floor(65536 / PKT), 'default flushBytes 64 KiB');
});

test('arm() starts one timer for the window; it fires once when the window ends; disarm() stops it', () => {
  const { clock, w, dues } = setup({ batchMs: 20 });
  w.arm();
  w.arm();
  assert.equal(clock.pending, 1, 'one timer however often armed');
  clock.tick(19);
  assert.equal(dues(), 0);
  clock.tick(1);
  assert.equal(dues(), 1);
  assert.equal(clock.pending, 0);
  w.arm();
  w.disarm();
  clock.tick(100);
  assert.equal(dues(), 1, 'a disarmed window does not fire');
});

test('batchmaxms defaults to 3 x batchms, at most 100 ms, never below batchms', () => {
  assert.equal(setup({ batchMs: 20 }).w.maxBatchMs, 60);
  assert.equal(setup({ batchMs: 50 }).w.maxBatchMs, 100);
  assert.equal(setup({ batchMs: 200 }).w.maxBatchMs, 200);
  assert.equal(setup({ batchMs: 20, maxBatchMs: 5 }).w.maxBatchMs, 20);
});

test('the window follows the smoothed flush cost (4 x, between batchms and batchmaxms) and the timer uses it', () => {
  const { clock, w, flush, dues } = setup({ batchMs: 10, maxBatchMs: 40 });
  assert.equal(w.ms, 10);
  // Each flush costs 8 ms, 12 ms idle between: not saturated (40 %).
  for (let i = 0; i < 20; i++) { flush(8); clock.tick(12); }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the flushes moved w.ms; assert.equal(w.ms, 10) above narrowed its type to 10
  assert.ok(w.ms > 30 && w.ms <= 32, `about 4 x 8 ms: ${w.ms}`);
  w.arm();
  clock.tick(Math.ceil(w.ms) - 1);
  assert.equal(dues(), 0, 'the timer waits the stretched window');
  clock.tick(1);
  assert.equal(dues(), 1);
  for (let i = 0; i < 40; i++) { flush(0); clock.tick(10); }
  assert.equal(w.ms, 10, 'back to batchms once flushes are cheap');
});

test('a saturated loop (over 90 % busy since the last flush) goes straight to batchmaxms', () => {
  const { clock, w, flush } = setup({ batchMs: 10, maxBatchMs: 40 });
  flush(0);
  clock.tick(2);
  clock.work(10); // 10 ms busy elsewhere, 2 ms idle: 83 %
  flush(0);
  assert.equal(w.ms, 10, 'busy, not saturated');
  clock.tick(1);
  clock.work(10); // 10 ms busy, 1 ms idle: 91 %
  flush(0);
  assert.equal(w.ms, 40);
  assert.equal(w.saturated, false, 'bursts are only deferred with deferBursts');
  clock.tick(20);
  flush(0);
  assert.equal(w.ms, 10);
});

test('with batchmaxms = batchms the window never moves', () => {
  const { clock, w, flush } = setup({ batchMs: 10, maxBatchMs: 10 });
  for (let i = 0; i < 5; i++) { flush(30); clock.work(5); }
  assert.equal(w.ms, 10);
});

test('deferBursts: under saturation a first write carries firstBurstBytes and a lagging client 1.25 x the batch', () => {
  const { clock, w, flush } = setup({ batchMs: 10, deferBursts: true, firstBurstBytes: 20 * PKT });
  assert.equal(w.firstWriteEnd(100, 500), 500, 'not saturated: the whole burst');
  flush(0);
  clock.work(50);
  flush(0);
  assert.equal(w.saturated, true);
  assert.equal(w.firstWriteEnd(100, 500), 120);
  assert.equal(w.firstWriteEnd(100, 110), 110, 'never past the flush point');
  assert.equal(w.deferredEnd(1000, 2000, 2040), 1050);
  assert.equal(w.deferredEnd(2030, 2000, 2040), 2040, 'never past the batch');
  clock.tick(50);
  flush(0);
  assert.equal(w.saturated, false, 'the load has passed');
});
