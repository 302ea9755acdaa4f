import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LimitWatcher } from '../../../src/events/limits.js';

function watch(full: number) {
  const events: string[] = [];
  const w = new LimitWatcher(full, () => events.push('hit'), () => events.push('miss'));
  return { w, events };
}

test('hit once on reaching the limit from below, miss once on falling below', () => {
  const { w, events } = watch(3);
  for (const n of [0, 1, 2]) w.update(n);
  assert.deepEqual(events, []);
  w.update(3);
  assert.deepEqual(events, ['hit']);
  assert.equal(w.isHit, true);
  for (const n of [4, 5, 3, 4, 3]) w.update(n);
  assert.deepEqual(events, ['hit'], 'no repeat while at or above the limit');
  w.update(2);
  assert.deepEqual(events, ['hit', 'miss']);
  assert.equal(w.isHit, false);
  for (const n of [1, 0, 2, 1]) w.update(n);
  assert.deepEqual(events, ['hit', 'miss'], 'no repeat while below');
});

test('one event per crossing, strictly alternating, also on jumps', () => {
  const { w, events } = watch(2);
  for (const n of [0, 5, 0, 2, 1, 2, 1, 10, 9, 0]) w.update(n);
  assert.deepEqual(events, ['hit', 'miss', 'hit', 'miss', 'hit', 'miss', 'hit', 'miss']);
  for (let i = 1; i < events.length; i++) assert.notEqual(events[i], events[i - 1]);
});

test('hovering at the limit', () => {
  const { w, events } = watch(1);
  for (let i = 0; i < 10; i++) { w.update(1); w.update(1); w.update(0); w.update(0); }
  assert.equal(events.length, 20);
  assert.deepEqual(events.slice(0, 4), ['hit', 'miss', 'hit', 'miss']);
});

test('full = 0 disables the watcher', () => {
  const { w, events } = watch(0);
  for (const n of [0, 1, 100, 0, 5]) w.update(n);
  assert.deepEqual(events, []);
  assert.equal(w.isHit, false);
});

test('a callback that updates again sees the new state (no double hit)', () => {
  const events: string[] = [];
  const w: LimitWatcher = new LimitWatcher(2, () => { events.push('hit'); w.update(3); }, () => events.push('miss'));
  w.update(2);
  assert.deepEqual(events, ['hit']);
});
