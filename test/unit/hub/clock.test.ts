import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../../src/hub/clock.js';

test('the system clock follows node:test mock timers (globals looked up per call)', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 5000 });
  assert.equal(systemClock.now(), 5000);
  const fired: string[] = [];
  const once = systemClock.setTimeout(() => fired.push('timeout'), 30);
  const every = systemClock.setInterval(() => fired.push('interval'), 20);
  t.mock.timers.tick(29);
  assert.deepEqual(fired, ['interval']);
  t.mock.timers.tick(1);
  assert.deepEqual(fired, ['interval', 'timeout']);
  assert.equal(systemClock.now(), 5030);
  systemClock.clearInterval(every);
  systemClock.clearTimeout(once);
  t.mock.timers.tick(100);
  assert.equal(fired.length, 2);
});

test('the system clock measures the real loop: monotonic time and event-loop utilisation', () => {
  const a = systemClock.monotonic();
  const mark = systemClock.eventLoopUtilization();
  const end = a + 5;
  while (systemClock.monotonic() < end); // busy
  const u = systemClock.eventLoopUtilization(systemClock.eventLoopUtilization(), mark).utilization;
  assert.ok(systemClock.monotonic() >= a + 5);
  assert.ok(u > 0 && u <= 1);
});
