// The health failover policy on fake time: when a failover trigger switches remotes, how
// often, and which remote comes next (docs/health.md, "Failover on health").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HealthPolicy } from '../../../src/sources/health-policy.js';
import type { Indicator } from '../../../src/ts/alarms.js';
import { FakeClock } from '../../helpers/clock.js';

interface World { p: HealthPolicy; clock: FakeClock; switches: { t: number; to: number; indicator: Indicator }[]; stays: number[] }

function world(count: number, alarmTimeMs = 2000, reconnectMs = 10_000): World {
  const clock = new FakeClock(0);
  const w: World = { p: undefined as unknown as HealthPolicy, clock, switches: [], stays: [] };
  w.p = new HealthPolicy({
    count, alarmTimeMs, reconnectMs, clock,
    switchTo: (to, indicator) => { w.switches.push({ t: clock.monotonic(), to, indicator }); },
    stay: (_i, retryMs) => { w.stays.push(retryMs); },
  });
  return w;
}

test('a trigger held for alarmtime switches to the next remote, not a millisecond sooner', () => {
  const w = world(3);
  w.p.triggered('pid_error', 0);
  w.clock.tick(1999);
  assert.deepEqual(w.switches, []);
  w.clock.tick(1);
  assert.deepEqual(w.switches, [{ t: 2000, to: 1, indicator: 'pid_error' }]);
});

test('a trigger cleared before alarmtime switches nothing', () => {
  const w = world(2);
  w.p.triggered('cc_error', 0);
  w.clock.tick(1500);
  w.p.triggered(undefined, 0);
  w.clock.tick(10_000);
  assert.deepEqual(w.switches, []);
  assert.equal(w.clock.pending, 0);
});

test('a run that ended in alarm is passed over for reconnect while another remote can be tried, then tried again', () => {
  const w = world(3);
  w.p.triggered('pat_error', 0);
  w.p.ended(0); // e.g. the switch closed it, or the connection dropped while in alarm
  assert.equal(w.p.next(0), 1);
  assert.equal(w.p.healthy(0), false);
  w.clock.tick(9_999);
  assert.equal(w.p.next(0), 1);
  w.clock.tick(1);
  assert.equal(w.p.next(0), 0);
  // A run that ended without a trigger raised is not passed over.
  w.p.ended(1);
  assert.equal(w.p.next(1), 1);
});

test('every other remote in alarm: the stream stays, and switches once the first may be retried', () => {
  const w = world(2);
  w.p.triggered('pid_error', 1);
  w.p.ended(1);
  // Now on remote 0 (t = 0), which breaks too.
  w.p.triggered('pid_error', 0);
  w.clock.tick(2000);
  assert.deepEqual(w.switches, []);
  assert.deepEqual(w.stays, [8000]);
  w.clock.tick(7999);
  assert.deepEqual(w.switches, []);
  w.clock.tick(1);
  assert.deepEqual(w.switches, [{ t: 10_000, to: 1, indicator: 'pid_error' }]);
});

test('all remotes in alarm from the start: next() keeps the listed order', () => {
  const w = world(3);
  for (const i of [0, 1, 2]) { w.p.triggered('cc_error', i); w.p.ended(i); }
  assert.equal(w.p.next(1), 1);
});

test('two bad remotes: never more than one switch per alarmtime', () => {
  const w = world(2, 2000, 1000);
  // Each switch ends the run (in alarm) and the next remote raises its trigger 100 ms later.
  const clock = w.clock;
  let on = 0;
  const p: HealthPolicy = new HealthPolicy({
    count: 2, alarmTimeMs: 2000, reconnectMs: 1000, clock,
    switchTo: (to, indicator) => {
      w.switches.push({ t: clock.monotonic(), to, indicator });
      p.ended(on);
      on = to;
      clock.setTimeout(() => { p.triggered('pid_error', on); }, 100);
    },
    stay: (_i, retryMs) => { w.stays.push(retryMs); },
  });
  p.triggered('pid_error', on);
  clock.tick(20_000);
  assert.deepEqual(w.switches.map((s) => s.t), [2000, 4100, 6200, 8300, 10_400, 12_500, 14_600, 16_700, 18_800]);
  assert.deepEqual(w.switches.slice(0, 2).map((s) => s.to), [1, 0]);
  p.close();
});

test('the last switch spaces the next one even when a trigger comes back at once', () => {
  const w = world(3, 2000, 60_000);
  w.p.triggered('pid_error', 0);
  w.clock.tick(2000);
  w.p.ended(0);
  // The trigger of the new remote is raised and cleared and raised again quickly; the
  // switch still waits for a full alarmtime after the raise that holds.
  w.p.triggered('cc_error', 1);
  w.clock.tick(500);
  w.p.triggered(undefined, 1);
  w.p.triggered('cc_error', 1);
  w.clock.tick(1999);
  assert.equal(w.switches.length, 1);
  w.clock.tick(1);
  assert.deepEqual(w.switches.at(-1), { t: 4500, to: 2, indicator: 'cc_error' });
});

test('close() cancels a pending switch', () => {
  const w = world(2);
  w.p.triggered('pid_error', 0);
  w.p.close();
  w.clock.tick(5000);
  assert.deepEqual(w.switches, []);
});
