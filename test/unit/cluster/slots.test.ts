// Slots: a stream's number on the data pipe. The primary's table keeps a running stream's
// slot across reloads and never reuses one; the worker routes each frame to its slot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigSchema, type Config } from '../../../src/config/schema.js';
import { planReload } from '../../../src/reload.js';
import { Frame } from '../../../src/cluster/protocol.js';
import { SlotRouter, SlotTable } from '../../../src/cluster/slots.js';

/** A configuration with these streams (and an API between them, which takes no slot). */
function config(streams: Record<string, string>): Config {
  const resources: unknown[] = Object.entries(streams).map(([serve, remote]) => ({ type: 'stream', serve, remote }));
  resources.splice(1, 0, { type: 'api', api: 'health', serve: '/health' });
  return ConfigSchema.parse({ resources });
}

const reloadTo = (table: SlotTable, from: Config, to: Config) => table.reload(planReload(from, to), to);

test('SlotTable: one slot per stream resource, in order; APIs take none', () => {
  const t = new SlotTable(config({ '/a': 'http://x/a', '/b': 'http://x/b' }));
  assert.deepEqual(t.configSlots, [0, 1]);
  assert.equal(t.size, 2);
  assert.equal(t.nameAt(1), '/b');
  assert.deepEqual([...t.running()], [[0, '/a'], [1, '/b']]);
});

test('SlotTable: a reload keeps the slots of kept streams, gives restarted and added ones new slots, retires the rest; nothing changes before commit', () => {
  const c1 = config({ '/a': 'http://x/a', '/b': 'http://x/b', '/c': 'http://x/c' });
  const t = new SlotTable(c1);
  // /a kept, /b restarted (new remote), /c removed, /d added; /b now after /d.
  const c2 = config({ '/a': 'http://x/a', '/d': 'http://x/d', '/b': 'http://x/b2' });
  const r = reloadTo(t, c1, c2);
  assert.deepEqual(r.slots, [0, 3, 4]);
  assert.equal(r.size, 5);
  assert.deepEqual(t.configSlots, [0, 1, 2], 'not committed yet');
  assert.equal(t.nameAt(2), '/c');
  r.commit();
  assert.deepEqual(t.configSlots, [0, 3, 4]);
  assert.deepEqual([...t.running()], [[0, '/a'], [3, '/d'], [4, '/b']]);
  // Retired slots stay slots (a worker may still report them) but name no stream.
  assert.equal(t.has(1), true);
  assert.equal(t.nameAt(1), undefined);
  assert.equal(t.nameAt(2), undefined);
  // A second reload goes on from there: slots are never reused.
  const c3 = config({ '/b': 'http://x/b3' });
  const r3 = reloadTo(t, c2, c3);
  r3.commit();
  assert.deepEqual(t.configSlots, [5]);
  assert.deepEqual([...t.running()], [[5, '/b']]);
});

test('SlotTable: what a worker sends as a slot is checked', () => {
  const t = new SlotTable(config({ '/a': 'http://x/a' }));
  for (const bad of [-1, 1, 0.5, '0', null, undefined, Number.NaN]) {
    assert.equal(t.has(bad), false, String(bad));
    assert.equal(t.nameAt(bad), undefined);
  }
  assert.equal(t.has(0), true);
});

test('SlotTable: a reload that would need more than 65535 slots is refused, and the table is unchanged', () => {
  let cfg = config({ '/a': 'http://x/a' });
  const t = new SlotTable(cfg);
  // Each reload restarts the stream: one new slot each time.
  for (let i = 1; i < 0xffff; i++) {
    const next = config({ '/a': `http://x/a${i}` });
    reloadTo(t, cfg, next).commit();
    cfg = next;
  }
  assert.equal(t.size, 0xffff);
  assert.throws(() => reloadTo(t, cfg, config({ '/a': 'http://x/again' })), /65535 slots/);
  assert.equal(t.size, 0xffff);
  assert.deepEqual(t.configSlots, [0xfffe]);
});

test('SlotRouter: each frame goes to the stream of its slot in the configuration set last; other slots are dropped', () => {
  const got: string[] = [];
  const stream = (name: string) => ({ onFrame: (type: Frame, arg: number, p: Buffer) => { got.push(`${name} ${type} ${arg} ${p.length}`); } });
  const a = stream('a');
  const r = new SlotRouter();
  r.onFrame(Frame.Data, 0, 0, Buffer.alloc(188)); // before any configuration: dropped
  r.set(new Map([[0, a], [2, stream('b')]]));
  r.onFrame(Frame.Data, 0, 0, Buffer.alloc(188));
  r.onFrame(Frame.End, 5, 2, Buffer.alloc(0));
  r.onFrame(Frame.Data, 0, 1, Buffer.alloc(188)); // no such slot here
  r.set(new Map([[0, a], [3, stream('c')]]));
  r.onFrame(Frame.Lost, 0, 2, Buffer.alloc(0)); // retired by the reload
  r.onFrame(Frame.Resumed, 0, 3, Buffer.alloc(0));
  assert.deepEqual(got, [`a ${Frame.Data} 0 188`, `b ${Frame.End} 5 0`, `c ${Frame.Resumed} 0 0`]);
});
