// A stream's health checks on a synthetic stream and fake time: one checker per
// connection, alarms raised and cleared as log lines and events (stream, indicator,
// redacted remote), counts kept across connections, and the failover trigger (priority 1,
// or listed in failoveron) reported once per episode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamHealth } from '../../../src/stream/health.js';
import type { StreamAlarm } from '../../../src/stream/contracts.js';
import type { Indicator } from '../../../src/ts/alarms.js';
import { capturedLogger } from '../../helpers/inproc.js';
import { H264_DELTA, Mux, patSection, pes, pmtSection } from '../../helpers/packets.js';

const PMT = 0x1000, VIDEO = 0x100;
const KEYS = { pidtimeout: 2, pcrinterval: 100, alarmclear: 5, failoveron: [] as Indicator[] };

/** 100 ms of a stream: PAT, PMT and (unless `video` is false) a video PES with a PCR. */
function slice(mux: Mux, ms: number, video: boolean): Buffer {
  mux.packets.length = 0;
  mux.psi(0, patSection(0, [[1, PMT]]));
  mux.psi(PMT, pmtSection(1, 0, VIDEO, [{ type: 0x1b, pid: VIDEO }]));
  if (video) mux.pes(VIDEO, pes(H264_DELTA), { pcr: ms * 27_000 });
  return mux.buffer();
}

interface Run { h: StreamHealth; events: StreamAlarm[]; triggers: (Indicator | undefined)[]; lines: ReturnType<typeof capturedLogger>['lines']; t: number }

function world(keys = KEYS): Run {
  const { log, lines } = capturedLogger();
  const run: Run = { h: undefined as unknown as StreamHealth, events: [], triggers: [], lines, t: 1_000_000 };
  run.h = new StreamHealth('/s.ts', keys, log, (i) => { run.triggers.push(i); });
  run.h.subscribe((e) => { run.events.push(e); });
  return run;
}

/** Feed `ms` of stream in 100 ms chunks, video present while `video(t)`. */
function feed(r: Run, mux: Mux, ms: number, video: (t: number) => boolean = () => true): void {
  for (let k = 0; k < ms; k += 100) {
    r.t += 100;
    r.h.chunk(r.t);
    const b = slice(mux, r.t, video(r.t));
    r.h.push(b, 0, b.length / 188);
  }
}

test('a video PID that vanishes raises pid_error once (log, event, trigger); it clears when the connection ends', () => {
  const r = world();
  const mux = new Mux();
  r.h.begin('http://user:secret@origin/a.ts', r.t);
  feed(r, mux, 3000);
  assert.equal(r.h.alarms.length, 0);
  const stop = r.t;
  feed(r, mux, 3000, () => false);
  assert.ok(r.h.alarms.includes('pid_error'), String(r.h.alarms));
  const raised = r.events.filter((e) => e.indicator === 'pid_error');
  assert.deepEqual(raised, [{ stream: '/s.ts', indicator: 'pid_error', raised: true, priority: 1, remote: 'http://user:***@origin/a.ts' }]);
  assert.deepEqual(r.triggers, ['pid_error'], 'one trigger per episode (pid_error is priority 1)');
  const line = r.lines.find((l) => l.evt === 'alarm_raised' && l.indicator === 'pid_error');
  assert.ok(line?.remote === 'http://user:***@origin/a.ts' && line.priority === 1);
  assert.ok(r.lines.filter((l) => l.evt === 'alarm_raised').length <= 2, 'no line per packet');
  assert.ok(r.t - stop >= 2000);
  const pidErrors = r.h.counts().pid_error;
  assert.ok(pidErrors >= 1);

  r.h.end();
  assert.deepEqual(r.h.alarms, []);
  assert.ok(r.events.some((e) => e.indicator === 'pid_error' && !e.raised));
  assert.deepEqual(r.triggers, ['pid_error', undefined]);
  assert.equal(r.lines.find((l) => l.evt === 'alarm_cleared' && l.indicator === 'pid_error')?.why, 'connection ended');
  // The counts stay (Prometheus counters never go down) and grow with the next connection.
  r.h.begin('http://origin/b.ts', r.t);
  assert.equal(r.h.counts().pid_error, pidErrors);
  feed(r, mux, 1000);
  assert.deepEqual(r.h.alarms, []);
});

test('a clean stream raises nothing; sync breaks count ts_sync_loss and sync_byte_error on the connection in use', () => {
  const r = world();
  const mux = new Mux();
  r.h.push(Buffer.alloc(188), 0, 1); // before any connection: ignored
  r.h.syncBreak(true);
  r.h.begin('udp://239.0.0.1:1234', r.t);
  feed(r, mux, 10_000);
  assert.deepEqual(r.events, []);
  r.h.syncBreak(true);
  r.h.syncBreak(false);
  assert.equal(r.h.counts().ts_sync_loss, 1);
  assert.equal(r.h.counts().sync_byte_error, 1);
});

test('priority-2 alarms trigger failover only when listed in failoveron', () => {
  for (const listed of [false, true]) {
    const r = world({ ...KEYS, failoveron: listed ? ['pcr_repetition_error'] : [] });
    const mux = new Mux();
    r.h.begin('http://origin/a.ts', r.t);
    feed(r, mux, 1000);
    // PCRs 300 ms apart (video every third slice): pcr_repetition_error, nothing of priority 1.
    feed(r, mux, 4000, (t) => t % 300 === 0);
    assert.ok(r.h.alarms.includes('pcr_repetition_error'), String(r.h.alarms));
    assert.equal(r.h.alarms.includes('pid_error'), false);
    assert.deepEqual(r.triggers, listed ? ['pcr_repetition_error'] : []);
  }
});
