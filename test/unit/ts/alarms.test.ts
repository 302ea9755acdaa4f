import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AlarmBoard, INDICATORS, Ind, priorityOf, type AlarmEvent } from '../../../src/ts/alarms.js';

function board(windowMs = 1000, clearMs = 5000): { b: AlarmBoard; events: AlarmEvent[] } {
  const events: AlarmEvent[] = [];
  const b = new AlarmBoard(windowMs, clearMs, (e) => events.push(e));
  return { b, events };
}

test('indicator names and priorities are the contract of issue 21', () => {
  assert.deepEqual([...INDICATORS], ['ts_sync_loss', 'sync_byte_error', 'pat_error', 'cc_error', 'pmt_error', 'pid_error',
    'transport_error', 'crc_error', 'pcr_repetition_error', 'pcr_discontinuity_error', 'pts_error', 'scrambled']);
  assert.deepEqual(INDICATORS.filter((i) => priorityOf(i) === 1), ['ts_sync_loss', 'sync_byte_error', 'pat_error', 'cc_error', 'pmt_error', 'pid_error']);
  assert.deepEqual(Object.values(Ind), INDICATORS.map((_, i) => i), 'Ind numbers INDICATORS in order');
});

test('events: errors in one window are counted, not raised; in the next window they raise', () => {
  const { b, events } = board();
  b.event(Ind.Cc, 100);
  b.event(Ind.Cc, 600, 5);
  b.event(Ind.Cc, 1099);
  b.settle(1099);
  assert.equal(b.count(Ind.Cc), 7);
  assert.equal(b.isRaised(Ind.Cc), false);
  b.wallMs = 42;
  b.event(Ind.Cc, 1100);
  assert.deepEqual(events, [{ indicator: 'cc_error', raised: true, priority: 1, atMs: 42, count: 8 }]);
});

test('events: a window without an error ends the streak', () => {
  const { b, events } = board();
  b.event(Ind.Transport, 0);
  b.event(Ind.Transport, 2000); // window [1000, 2000) was empty: a new streak opens here
  b.event(Ind.Transport, 2999);
  assert.deepEqual(events, []);
  b.event(Ind.Transport, 3000);
  assert.equal(events.length, 1);
});

test('clearing: alarmclear after the last error, once; the next error opens a new streak', () => {
  const { b, events } = board();
  b.event(Ind.Crc, 0);
  b.event(Ind.Crc, 1000);
  b.event(Ind.Crc, 1500);
  b.settle(6499);
  assert.equal(b.isRaised(Ind.Crc), true);
  b.settle(6500);
  b.settle(9000);
  assert.deepEqual(events.map((e) => e.raised), [true, false]);
  assert.equal(b.anyRaised, false);
  b.event(Ind.Crc, 9000);
  assert.equal(b.isRaised(Ind.Crc), false, 'one error after a clear does not raise');
});

test('conditions raise at once, count each episode, and clear alarmclear after they stop holding', () => {
  const { b, events } = board();
  b.hold(Ind.Pat, 500, 1);
  b.hold(Ind.Pat, 700, 0);
  b.hold(Ind.Pat, 900, 1);
  assert.equal(b.count(Ind.Pat), 2);
  assert.deepEqual(events.map((e) => [e.indicator, e.raised]), [['pat_error', true]]);
  b.settle(5899);
  b.settle(5900);
  assert.deepEqual(events.map((e) => e.raised), [true, false]);
});

test('property: a lone error, or any errors inside one window, never raise', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 1e6 }), fc.array(fc.integer({ min: 0, max: 999 })), (start, offsets) => {
    const { b, events } = board();
    b.event(Ind.Cc, start);
    for (const o of offsets.sort((x, y) => x - y)) b.event(Ind.Cc, start + o);
    b.settle(start + 999);
    assert.deepEqual(events, []);
  }));
});

test('without a listener nothing is reported, and states still change', () => {
  const b = new AlarmBoard(1000, 5000, undefined);
  b.hold(Ind.Pid, 0, 1);
  assert.equal(b.isRaised(Ind.Pid), true);
});
