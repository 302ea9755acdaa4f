import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../src/log/logger.js';
import { FaultLog, FaultSummary } from '../../../src/log/faults.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const { logger } = createLogger({ level: 'debug', stream: { write(s: string) { lines.push(JSON.parse(s) as Record<string, unknown>); } } });
  return { lines, log: logger };
}

test('FaultLog: first fault logged at once, the rest of the interval counted into the next line', () => {
  const { lines, log } = capture();
  let t = 1_000_000;
  const f = new FaultLog(log, 10_000, () => t);
  f.note({ evt: 'x_error', err: 'one' }, 'failed');
  t += 1000; f.note({ evt: 'x_error', err: 'two' }, 'failed');
  t += 1000; f.note({ evt: 'x_error', err: 'three' }, 'failed');
  assert.deepEqual(lines.map((l) => [l.err, l.failures]), [['one', 1]]);
  t += 10_000; f.note({ evt: 'x_error', err: 'four' }, 'failed');
  assert.deepEqual(lines.map((l) => [l.err, l.failures]), [['one', 1], ['four', 3]]);
  assert.equal(lines[1]!.evt, 'x_error');
});

test('FaultSummary: first of each kind at once; report() logs what changed since the last one', () => {
  const { lines, log } = capture();
  const c = { oversize: 0, lost: 0 };
  const s = new FaultSummary(log, () => ({ ...c }));
  c.oversize++; s.first('oversize', { size: 2000 }, 'too big');
  c.oversize++; s.first('oversize', { size: 3000 }, 'too big');
  assert.deepEqual(lines.map((l) => [l.evt, l.first, l.size]), [['upstream_faults', 'oversize', 2000]]);
  c.lost += 3;
  s.report();
  assert.deepEqual(lines[1]!.since, { oversize: 2, lost: 3 });
  s.report(); // nothing changed: no line
  assert.equal(lines.length, 2);
  c.lost++;
  s.stop();
  s.stop();
  assert.deepEqual(lines.slice(2).map((l) => l.since), [{ lost: 1 }]);
  assert.deepEqual(lines[2]!.totals, { oversize: 2, lost: 4 });
});

test('FaultSummary on an injected timer, with a line of its own: one line per interval, only when a counter grew', () => {
  const { lines, log } = capture();
  const timers: { fn: () => void; ms: number }[] = [];
  const c = { bytes: 0 };
  const s = new FaultSummary(log, () => ({ ...c }), 5000, {
    timers: { setInterval: (fn, ms) => timers.push({ fn, ms }), clearInterval: (id) => { timers.splice(Number(id) - 1, 1); } },
    line: (since, totals) => { log.warn({ evt: 'own', since, totals }, 'own line'); },
  });
  s.start();
  s.start();
  assert.deepEqual(timers.map((t) => t.ms), [5000]);
  c.bytes = 10;
  timers[0]!.fn();
  timers[0]!.fn();
  assert.deepEqual(lines.map((l) => [l.evt, l.since, l.totals]), [['own', { bytes: 10 }, { bytes: 10 }]]);
  s.stop();
  assert.equal(timers.length, 0);
});
