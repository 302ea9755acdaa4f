import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../src/log/logger.js';
import { FaultEpisode, FaultLog, FaultSummary, RepeatLog } from '../../../src/log/faults.js';
import { FakeClock } from '../../helpers/clock.js';

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

test('FaultEpisode: the first fault reported at once, the rest counted, the count reported once the fault has been quiet for a whole interval', () => {
  const clock = new FakeClock();
  const reports: [number, string | undefined][] = [];
  const e = new FaultEpisode(10_000, (n, first) => reports.push([n, first]), clock);
  e.note('EMFILE');
  e.note('ENFILE');
  assert.deepEqual(reports, [[0, 'EMFILE']], 'one line at the start, with the first detail');
  clock.tick(10_000);
  e.note();
  clock.tick(10_000);
  assert.deepEqual(reports, [[0, 'EMFILE']], 'still recurring: the episode goes on');
  clock.tick(10_000);
  assert.deepEqual(reports, [[0, 'EMFILE'], [3, undefined]], 'quiet for an interval: over, with its count');
  assert.equal(clock.pending, 0, 'no timer between episodes');
  e.note('EMFILE');
  assert.deepEqual(reports.at(-1), [0, 'EMFILE'], 'a new episode starts with a new first line');
  e.close();
  e.close();
  assert.equal(clock.pending, 0);
  clock.tick(60_000);
  assert.equal(reports.length, 3, 'closed: no report after close');
});

test('RepeatLog: one line per event until a key floods; then one line per interval with the count; a quiet key is forgotten', () => {
  const { lines, log } = capture();
  const clock = new FakeClock();
  const r = new RepeatLog(log, { level: 'info', burst: 3, intervalMs: 10_000, timers: clock });
  for (let i = 1; i <= 5; i++) r.note('10.0.0.1', { evt: 'client_rejected', remote: '10.0.0.1', port: 4000 + i }, 'client rejected');
  r.note('10.0.0.2', { evt: 'client_rejected', remote: '10.0.0.2', port: 5000 }, 'client rejected');
  assert.deepEqual(lines.map((l) => [l.remote, l.port, l.repeats]), [
    ['10.0.0.1', 4001, undefined], ['10.0.0.1', 4002, undefined], ['10.0.0.1', 4003, undefined], ['10.0.0.2', 5000, undefined],
  ], 'a line each up to the burst, per key');
  assert.ok(lines.every((l) => l.level === 30), 'at the level asked for');
  clock.tick(10_000);
  assert.equal(lines.length, 5);
  assert.deepEqual([lines[4]!.remote, lines[4]!.port, lines[4]!.repeats, lines[4]!.evt], ['10.0.0.1', 4005, 2, 'client_rejected'], 'the flood summarised with the last event\'s fields');
  assert.match(lines[4]!.msg as string, /^client rejected \(and 2 more/);
  for (let i = 0; i < 7; i++) r.note('10.0.0.1', { evt: 'client_rejected', remote: '10.0.0.1' }, 'client rejected');
  assert.equal(lines.length, 5, 'still flooding: counted, not logged');
  clock.tick(10_000);
  assert.deepEqual(lines.slice(5).map((l) => l.repeats), [7]);
  clock.tick(10_000);
  clock.tick(10_000);
  assert.equal(lines.length, 6, 'nothing new: no line');
  assert.equal(clock.pending, 0, 'every key forgotten: no timer');
  r.note('10.0.0.1', { evt: 'client_rejected', remote: '10.0.0.1' }, 'client rejected');
  assert.equal(lines.length, 7, 'a forgotten key has its line again');
  for (let i = 0; i < 4; i++) r.note('10.0.0.1', { evt: 'client_rejected', remote: '10.0.0.1' }, 'client rejected');
  r.close();
  r.close();
  assert.deepEqual(lines.slice(7).map((l) => l.repeats), [undefined, undefined, 2], 'close logs the count still pending, once');
  assert.equal(clock.pending, 0);
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
