import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { readPcr } from '../../../src/ts/pcr.js';
import { DEFAULT_THRESHOLDS, Tr101290, type AlarmEvent, type Indicator } from '../../../src/ts/tr101290.js';
import { PKT, packet, patSection, pes, pmtSection, psiPackets, section } from '../../helpers/packets.js';
import { fixtureTs } from '../../helpers/upstream.js';

// A synthetic program, one tick of packets every 10 ms of stream time: PAT + PMT every
// `psiEveryMs`, one video packet per tick (PID 0x100, PCR every `pcrEveryMs`, a PES with a
// PTS every `ptsEveryMs`), one audio packet (0x101, PES every 50 ms), a null packet, an
// SDT every 500 ms, and two PIDs that are not watched (second audio 0x102, subtitles
// 0x103) every 100 ms. Each packet's arrival time is its tick's.
const TICK = 10;
const PMT_PID = 0x1000, VIDEO = 0x100, AUDIO = 0x101, AUDIO2 = 0x102, SUBS = 0x103;
const PCR_BASE = 27_000_000 * 1000;

interface Gen {
  ms: number;
  psiEveryMs?: number;
  pcrEveryMs?: number;
  ptsEveryMs?: number;
  /** Extra ms added to the PCR value at stream time t (a time base jump). */
  pcrOffset?: (t: number) => number;
  /** Packets not sent at all (their CC does not advance: no continuity error). */
  omit?: (pid: number, t: number) => boolean;
  /** Packets lost on the way (their CC advances: a continuity error). */
  drop?: (pid: number, t: number) => boolean;
  /** Change a packet in place before it is sent. */
  mutate?: (p: Buffer, pid: number, t: number) => void;
  /** PES starts (with a PTS) left out on the video PID, as [from, to) ms. */
  noPesFrom?: [number, number];
}

interface Stream { buf: Buffer; times: number[] }

function generate(o: Gen): Stream {
  const psiEvery = o.psiEveryMs ?? 100, pcrEvery = o.pcrEveryMs ?? 40, ptsEvery = o.ptsEveryMs ?? 40;
  const pat = patSection(0, [[1, PMT_PID]]);
  const pmt = pmtSection(1, 0, VIDEO, [
    { type: 0x1b, pid: VIDEO }, { type: 0x0f, pid: AUDIO }, { type: 0x0f, pid: AUDIO2 },
    { type: 0x06, pid: SUBS, desc: [0x59, 0] },
  ]);
  const sdt = section(0x42, 1, 0, [0xff, 0x01, 0, 1, 0xfc, 0x80, 0]);
  const cc = new Map<number, number>();
  const out: Buffer[] = [];
  const times: number[] = [];
  const send = (p: Buffer, pid: number, t: number): void => {
    if (o.omit?.(pid, t)) return;
    const c = cc.get(pid) ?? 0;
    if ((p[3]! & 0x10) !== 0) cc.set(pid, (c + 1) & 0x0f);
    p[3] = (p[3]! & 0xf0) | c;
    if (o.drop?.(pid, t)) return;
    o.mutate?.(p, pid, t);
    out.push(p);
    times.push(t);
  };
  const filler = Buffer.alloc(184, 0xab);
  for (let t = 0; t < o.ms; t += TICK) {
    if (t % psiEvery === 0) {
      send(psiPackets(0, pat), 0, t);
      send(psiPackets(PMT_PID, pmt), PMT_PID, t);
    }
    if (t % 500 === 0) send(psiPackets(0x11, sdt), 0x11, t);
    const pcr = t % pcrEvery === 0 ? PCR_BASE + Math.round((t + (o.pcrOffset?.(t) ?? 0)) * 27000) : undefined;
    const noPes = o.noPesFrom !== undefined && t >= o.noPesFrom[0] && t < o.noPesFrom[1];
    const start = t % ptsEvery === 0 && !noPes;
    send(packet(VIDEO, start ? pes([0, 0, 0, 1, 0x09, 0x10]) : filler.subarray(0, pcr === undefined ? 184 : 176), { pusi: start, pcr }), VIDEO, t);
    send(packet(AUDIO, t % 50 === 0 ? pes([0xff, 0xf1]) : filler, { pusi: t % 50 === 0 }), AUDIO, t);
    if (t % 100 === 0) {
      send(packet(AUDIO2, pes([0xff, 0xf1]), { pusi: true }), AUDIO2, t);
      send(packet(SUBS, pes([0x20, 0]), { pusi: true }), SUBS, t);
    }
    out.push(Buffer.from([0x47, 0x1f, 0xff, 0x10, ...Buffer.alloc(184, 0xff)]));
    times.push(t);
  }
  return { buf: Buffer.concat(out), times };
}

interface Run { c: Tr101290; events: AlarmEvent[] }

/**
 * Feed a stream in batches: `batch` packets per push (its time: its last packet's), or
 * 'tick' for one push per distinct arrival time. `after(c, t)` runs after each push.
 */
function feed(s: Stream, batch: number | 'tick' = 'tick', opts: ConstructorParameters<typeof Tr101290>[0] = {},
  after?: (c: Tr101290, t: number) => void): Run {
  const events: AlarmEvent[] = [];
  const c = new Tr101290({ ...opts, onAlarm: (e) => events.push(e) });
  const n = s.times.length;
  for (let i = 0; i < n;) {
    let j = i + 1;
    if (batch === 'tick') while (j < n && s.times[j] === s.times[i]) j++;
    else j = Math.min(n, i + batch);
    c.push(s.buf, i * PKT, j - i, s.times[j - 1]!);
    after?.(c, s.times[j - 1]!);
    i = j;
  }
  return { c, events };
}

const only = (r: Run, ind: Indicator): AlarmEvent[] => r.events.filter((e) => e.indicator === ind);
const ZERO = Object.fromEntries(Object.keys(new Tr101290().counts()).map((k) => [k, 0]));
const CLEAR = DEFAULT_THRESHOLDS.alarmClearMs;

/** One raise then one clear, the clear `alarmclear` after the last error (to the tick). */
function assertRaisedAndCleared(r: Run, ind: Indicator, lastErrorMs: number): void {
  const ev = only(r, ind);
  assert.deepEqual(ev.map((e) => e.raised), [true, false], `${ind}: one raise, one clear`);
  const clearAt = ev[1]!.atMs;
  assert.ok(clearAt >= lastErrorMs + CLEAR && clearAt <= lastErrorMs + CLEAR + TICK, `${ind} cleared at ${clearAt}, last error ${lastErrorMs}`);
  assert.deepEqual(r.c.alarms, []);
}

test('a clean synthetic stream raises nothing, and the watched PIDs are the video and the first audio', () => {
  const r = feed(generate({ ms: 10_000 }));
  assert.deepEqual(r.c.counts(), ZERO);
  assert.deepEqual(r.events, []);
  assert.deepEqual(r.c.watched, { video: VIDEO, audio: AUDIO, pcr: VIDEO });
});

test('pat_error: PAT missing 490 ms is silent, 510 ms raises at once; clears alarmclear later', () => {
  const gap = (ms: number): Gen => ({ ms: 12_000, psiEveryMs: TICK, omit: (pid, t) => pid === 0 && t > 2000 && t < 2000 + ms });
  const below = feed(generate(gap(490)));
  assert.equal(below.c.count('pat_error'), 0);
  assert.deepEqual(below.events, []);
  const above = feed(generate(gap(510)));
  assert.equal(above.c.count('pat_error'), 1, 'one episode, one error');
  assert.equal(only(above, 'pat_error')[0]!.atMs, 2510, 'raised as soon as the gap passes 500 ms');
  assertRaisedAndCleared(above, 'pat_error', 2510);
  assert.deepEqual(above.events.map((e) => e.indicator), ['pat_error', 'pat_error'], 'nothing else');
});

test('pat_error: a PAT stopped for good stays raised; a scrambled PID 0 and a wrong table id count', () => {
  const stopped = feed(generate({ ms: 8000, omit: (pid, t) => pid === 0 && t > 1000 }));
  assert.deepEqual(stopped.c.alarms, ['pat_error']);
  assert.equal(stopped.c.count('pat_error'), 1);
  const scrambled = feed(generate({ ms: 8000, mutate: (p, pid, t) => { if (pid === 0 && t >= 1000 && t < 3000) p[3] = p[3]! | 0x80; } }));
  assert.ok(scrambled.c.count('pat_error') >= 20, 'each scrambled PAT packet counts');
  assert.equal(only(scrambled, 'pat_error')[0]!.raised, true);
  const wrongId = feed(generate({ ms: 8000, mutate: (p, pid, t) => { if (pid === 0 && t === 1000) p[5] = 0x02; } }));
  assert.equal(wrongId.c.count('pat_error'), 1, 'one section with the wrong table id');
  assert.deepEqual(wrongId.events, [], 'a single error is counted, not raised');
});

test('pmt_error: the PMT missing 490 ms is silent, 510 ms raises; clears alarmclear later', () => {
  const gap = (ms: number): Gen => ({ ms: 12_000, psiEveryMs: TICK, omit: (pid, t) => pid === PMT_PID && t > 2000 && t < 2000 + ms });
  assert.deepEqual(feed(generate(gap(490))).events, []);
  const above = feed(generate(gap(510)));
  assert.equal(above.c.count('pmt_error'), 1);
  assertRaisedAndCleared(above, 'pmt_error', 2510);
  assert.deepEqual(above.events.map((e) => e.indicator), ['pmt_error', 'pmt_error']);
});

test('pid_error: the first audio PID absent 1990 ms is silent, 2010 ms raises; unwatched PIDs may vanish', () => {
  const gap = (ms: number): Gen => ({ ms: 14_000, omit: (pid, t) => pid === AUDIO && t > 2000 && t < 2000 + ms });
  assert.deepEqual(feed(generate(gap(1990))).events, []);
  const above = feed(generate(gap(2010)));
  assert.equal(above.c.count('pid_error'), 1);
  assert.equal(only(above, 'pid_error')[0]!.atMs, 4010);
  assertRaisedAndCleared(above, 'pid_error', 4010);
  assert.deepEqual(above.events.map((e) => e.indicator), ['pid_error', 'pid_error']);
  const unwatched = feed(generate({ ms: 10_000, omit: (pid, t) => (pid === AUDIO2 || pid === SUBS) && t > 1000 }));
  assert.deepEqual(unwatched.c.counts(), ZERO);
});

test('pid_error: a vanished video PID (which carries the PCR) raises pid_error and pcr_repetition_error', () => {
  const r = feed(generate({ ms: 8000, omit: (pid, t) => pid === VIDEO && t > 1000 }));
  assert.deepEqual(r.c.alarms, ['pid_error', 'pcr_repetition_error']);
  assert.equal(r.c.count('cc_error'), 0);
});

test('cc_error: one lost packet is counted and raises nothing; errors in two consecutive 1 s windows raise', () => {
  const one = feed(generate({ ms: 8000, drop: (pid, t) => pid === VIDEO && t === 2000 }));
  assert.equal(one.c.count('cc_error'), 1);
  assert.deepEqual(one.events, []);
  // A loss is seen on the next packet of its PID (10 ms later here). The first window opens
  // at the first error (2010): a second error at 3000 is in the same window (silent), one
  // at 3010 in the next (raised then).
  const twice = (second: number): Gen => ({ ms: 12_000, drop: (pid, t) => pid === VIDEO && (t === 2000 || t === second) });
  const same = feed(generate(twice(2990)));
  assert.equal(same.c.count('cc_error'), 2);
  assert.deepEqual(same.events, []);
  const next = feed(generate(twice(3000)));
  assert.equal(only(next, 'cc_error')[0]!.atMs, 3010);
  assertRaisedAndCleared(next, 'cc_error', 3010);
  // A quiet window in between ends the streak.
  assert.deepEqual(feed(generate(twice(4000))).events, []);
});

test('cc_error: a loss storm raises within 1 s and clears alarmclear after the last loss', () => {
  const r = feed(generate({ ms: 12_000, drop: (pid, t) => pid === VIDEO && t >= 1000 && t < 4000 && t % 50 === 0 }));
  assert.equal(r.c.count('cc_error'), 60);
  const ev = only(r, 'cc_error');
  assert.equal(ev[0]!.atMs, 2010, 'raised 1 s after the first error (seen at 1010)');
  assertRaisedAndCleared(r, 'cc_error', 3960);
});

test('cc_error: one duplicate, the discontinuity indicator and a PID\'s first packet are not errors; two duplicates are', () => {
  const dupAt = (copies: number): Stream => {
    const s = generate({ ms: 3000 });
    const parts: Buffer[] = [];
    const times: number[] = [];
    for (let i = 0; i < s.times.length; i++) {
      const p = s.buf.subarray(i * PKT, (i + 1) * PKT);
      const n = s.times[i] === 1000 && (p.readUInt16BE(1) & 0x1fff) === VIDEO ? 1 + copies : 1;
      for (let k = 0; k < n; k++) { parts.push(p); times.push(s.times[i]!); }
    }
    return { buf: Buffer.concat(parts), times };
  };
  assert.equal(feed(dupAt(1)).c.count('cc_error'), 0, 'one duplicate is allowed');
  assert.equal(feed(dupAt(2)).c.count('cc_error'), 1, 'a second duplicate is an error');
  const disc = generate({ ms: 3000, drop: (pid, t) => pid === VIDEO && t === 1030,
    mutate: (p, pid, t) => { if (pid === VIDEO && t === 1040) p[5] = p[5]! | 0x80; } });
  assert.equal(feed(disc).c.count('cc_error'), 0, 'the packet after the loss carries the discontinuity indicator');
  // Every PID starts at an arbitrary counter (the generator starts at 0; shift them).
  const shifted = generate({ ms: 2000, mutate: (p) => { p[3] = (p[3]! & 0xf0) | ((p[3]! + 7) & 0x0f); } });
  assert.equal(feed(shifted).c.count('cc_error'), 0);
});

test('transport_error: one TEI packet counts; TEI that keeps coming raises and clears', () => {
  const one = feed(generate({ ms: 4000, mutate: (p, pid, t) => { if (pid === AUDIO && t === 1000) p[1] = p[1]! | 0x80; } }));
  assert.equal(one.c.count('transport_error'), 1);
  assert.deepEqual(one.events, []);
  const storm = feed(generate({ ms: 12_000, mutate: (p, pid, t) => { if (pid === AUDIO && t >= 1000 && t < 3000 && t % 100 === 0) p[1] = p[1]! | 0x80; } }));
  assert.equal(storm.c.count('transport_error'), 20);
  assertRaisedAndCleared(storm, 'transport_error', 2900);
  assert.deepEqual(storm.events.map((e) => e.indicator), ['transport_error', 'transport_error'], 'TEI alone: no cc_error');
});

test('crc_error: a bad CRC on the PAT, the PMT or the SDT counts; repeated ones raise', () => {
  const flip = (target: number, from: number, to: number, every: number) => (p: Buffer, pid: number, t: number): void => { if (pid === target && t >= from && t < to && t % every === 0) p[8] = p[8]! ^ 0x01; };
  for (const pid of [0, PMT_PID, 0x11]) {
    const one = feed(generate({ ms: 3000, mutate: flip(pid, 1000, 1001, 10) }));
    assert.equal(one.c.count('crc_error'), 1, `PID ${pid}`);
    assert.deepEqual(one.events, []);
  }
  // The SDT (every 500 ms) corrupt from 1 s to 3 s: errors in consecutive windows.
  const r = feed(generate({ ms: 10_000, mutate: flip(0x11, 1000, 3000, 500) }));
  assert.equal(r.c.count('crc_error'), 4);
  assertRaisedAndCleared(r, 'crc_error', 2500);
});

test('pcr_repetition_error: PCR every 100 ms is silent, every 110 ms raises; ffmpeg\'s 80 ms is silent', () => {
  assert.deepEqual(feed(generate({ ms: 6000, pcrEveryMs: 80 })).events, []);
  assert.deepEqual(feed(generate({ ms: 6000, pcrEveryMs: 100 })).events, []);
  const above = feed(generate({ ms: 6000, pcrEveryMs: 110 }));
  assert.ok(above.c.count('pcr_repetition_error') >= 50);
  assert.deepEqual(above.c.alarms, ['pcr_repetition_error']);
  // DVB's 40 ms is one setting away.
  assert.deepEqual(feed(generate({ ms: 6000, pcrEveryMs: 50 }), 'tick', { pcrIntervalMs: 40 }).c.alarms, ['pcr_repetition_error']);
  // Two PCRs lost in transit leave a gap of 120 ms: counted, raised when it persists, then cleared.
  const lost = feed(generate({ ms: 12_000, drop: (pid, t) => pid === VIDEO && t >= 1000 && t < 3000 && (t % 200 === 40 || t % 200 === 80) }));
  assert.equal(lost.c.count('pcr_repetition_error'), 10);
  assert.equal(lost.c.count('pcr_discontinuity_error'), 0);
  assertRaisedAndCleared(lost, 'pcr_repetition_error', 2920);
});

test('pcr_discontinuity_error: a jump of 90 ms is silent, of 110 ms counts; the discontinuity indicator excuses it', () => {
  const jumps = (ms: number, times: number[]) => (t: number): number => ms * times.filter((x) => t >= x).length;
  assert.deepEqual(feed(generate({ ms: 4000, pcrOffset: jumps(90, [2000]) })).c.counts(), ZERO);
  const one = feed(generate({ ms: 4000, pcrOffset: jumps(110, [2000]) }));
  assert.equal(one.c.count('pcr_discontinuity_error'), 1);
  assert.equal(one.c.count('pcr_repetition_error'), 0, 'the PCRs kept coming');
  assert.deepEqual(one.events, []);
  const back = feed(generate({ ms: 4000, pcrOffset: (t) => (t >= 2000 ? -30_000 : 0) }));
  assert.equal(back.c.count('pcr_discontinuity_error'), 1, 'a step backwards');
  const flagged = feed(generate({ ms: 4000, pcrOffset: (t) => (t >= 2000 ? 60_000 : 0),
    mutate: (p, pid, t) => { if (pid === VIDEO && t === 2000) p[5] = p[5]! | 0x80; } }));
  assert.deepEqual(flagged.c.counts(), ZERO);
  const repeated = feed(generate({ ms: 12_000, pcrOffset: jumps(500, [1000, 1600, 2200, 2800]) }));
  assert.equal(repeated.c.count('pcr_discontinuity_error'), 4);
  assertRaisedAndCleared(repeated, 'pcr_discontinuity_error', 2800);
});

test('pts_error: 690 ms between PTS on a watched PID is silent, 710 ms counts; PTS that keep coming late raise', () => {
  assert.deepEqual(feed(generate({ ms: 5000, ptsEveryMs: 10, noPesFrom: [1001, 1690] })).c.counts(), ZERO);
  const one = feed(generate({ ms: 5000, ptsEveryMs: 10, noPesFrom: [1001, 1710] }));
  assert.equal(one.c.count('pts_error'), 1);
  assert.deepEqual(one.events, []);
  assert.deepEqual(feed(generate({ ms: 6000, ptsEveryMs: 690 })).events, []);
  const r = feed(generate({ ms: 12_000, ptsEveryMs: 710, noPesFrom: [4000, 99_999] }));
  assert.ok(r.c.count('pts_error') >= 4);
  // The PES stop altogether at 4 s: the PTS check still counts while the PCR runs.
  assert.equal(only(r, 'pts_error')[0]!.raised, true);
  assert.deepEqual(r.c.alarms, ['pts_error']);
});

test('scrambled: scrambling bits on a watched PID count per packet, raise and clear; on other PIDs nothing', () => {
  const bits = (target: number, from: number, to: number) => (p: Buffer, pid: number, t: number): void => { if (pid === target && t >= from && t < to) p[3] = p[3]! | 0x80; };
  const one = feed(generate({ ms: 3000, mutate: bits(AUDIO, 1000, 1010) }));
  assert.equal(one.c.count('scrambled'), 1);
  assert.deepEqual(one.events, []);
  const r = feed(generate({ ms: 10_000, mutate: bits(VIDEO, 1000, 3000) }));
  assert.equal(r.c.count('scrambled'), 200);
  assertRaisedAndCleared(r, 'scrambled', 2990);
  assert.deepEqual(r.events.map((e) => e.indicator), ['scrambled', 'scrambled'], 'the PCR is still read, and no pts_error from the unreadable PES');
  assert.deepEqual(feed(generate({ ms: 3000, mutate: bits(SUBS, 1000, 3000) })).c.counts(), ZERO);
});

test('ts_sync_loss and sync_byte_error: fed by the aligner, counted, raised when they keep coming', () => {
  const s = generate({ ms: 10_000 });
  const r = feed(s, 'tick', {}, (c, t) => {
    if (t === 500) c.syncByteErrors(3, t);
    if (t >= 1000 && t < 3000 && t % 400 === 0) c.syncLoss(t);
  });
  assert.equal(r.c.count('sync_byte_error'), 3);
  assert.equal(r.c.count('ts_sync_loss'), 5);
  assert.deepEqual(only(r, 'sync_byte_error'), []);
  assertRaisedAndCleared(r, 'ts_sync_loss', 2800);
});

test('priorities: 1 for the first six indicators, 2 for the rest; each event carries its count', () => {
  const r = feed(generate({ ms: 8000, omit: (pid, t) => pid === 0 && t > 1000 && t < 2000,
    mutate: (p, pid, t) => { if (pid === AUDIO && t >= 1000 && t < 3000 && t % 100 === 0) p[1] = p[1]! | 0x80; } }));
  const byName = new Map(r.events.filter((e) => e.raised).map((e) => [e.indicator, e]));
  assert.equal(byName.get('pat_error')?.priority, 1);
  assert.equal(byName.get('transport_error')?.priority, 2);
  assert.equal(byName.get('transport_error')?.count, 11, 'the count when it was raised (errors at 1000..2000)');
});

test('thresholds are checked: a zero or negative value is refused', () => {
  assert.throws(() => new Tr101290({ pidTimeoutMs: 0 }), RangeError);
  assert.throws(() => new Tr101290({ alarmClearMs: Number.NaN }), RangeError);
  assert.equal(new Tr101290({ pidTimeoutMs: 5000 }).count('pid_error'), 0);
});

test('a stalled connection is not a missing table: a 3 s pause between two pushes counts at most 250 ms', () => {
  const s = generate({ ms: 6000 });
  const r = feed({ buf: s.buf, times: s.times.map((t) => (t >= 3000 ? t + 3000 : t)) });
  assert.deepEqual(r.c.counts(), ZERO);
});

// ---- Clean recorded streams, fed with arrival times derived from their PCR ----

const fixture = (name: string): string => fileURLToPath(new URL(`../../fixtures/mpegts/${name}`, import.meta.url));
const CLIPS: [string, () => string][] = [
  ['h264_aac.mpegts', () => fixture('h264_aac.mpegts')],
  ['hevc_aac.mpegts', () => fixture('hevc_aac.mpegts')],
  ['mpeg2_mp2.mpegts', () => fixture('mpeg2_mp2.mpegts')],
  ['examples/demo/demo.ts', () => fileURLToPath(new URL('../../../examples/demo/demo.ts', import.meta.url))],
  ['ffmpeg defaults (fixtureTs)', fixtureTs],
];

/** Arrival time of each packet: the stream time of the last PCR at or before it. */
function pcrTimes(buf: Buffer): number[] {
  const times: number[] = [];
  let first = -1, now = 0;
  for (let o = 0; o + PKT <= buf.length; o += PKT) {
    const p = readPcr(buf, o);
    if (p >= 0) now = (p - (first < 0 ? (first = p) : first)) / 27000;
    times.push(now);
  }
  return times;
}

for (const [name, path] of CLIPS) {
  test(`${name}: clean, fed at its PCR's pace, raises nothing at any batching`, (t) => {
    let buf: Buffer;
    try { buf = readFileSync(path()); } catch (e) { t.skip(`not available: ${String(e)}`); return; }
    const s = { buf, times: pcrTimes(buf) };
    const results = [1, 7, 13, 100, 348].map((b) => feed(s, b));
    for (const r of results) {
      assert.deepEqual(r.c.counts(), ZERO);
      assert.deepEqual(r.events, []);
      assert.notEqual(r.c.watched.video, -1, 'a video PID was found and watched');
      assert.notEqual(r.c.watched.audio, -1);
    }
  });
}

test('batching does not change the counts of a damaged stream', () => {
  const s = generate({ ms: 6000, drop: (pid, t) => pid === VIDEO && t % 370 === 0,
    mutate: (p, pid, t) => { if (pid === AUDIO && t % 230 === 0) p[1] = p[1]! | 0x80; if (pid === 0x11 && t === 1000) p[8] = p[8]! ^ 1; } });
  const counts = [1, 2, 5, 64, 1000].map((b) => feed(s, b).c.counts());
  for (const c of counts) assert.deepEqual(c, counts[0]);
  assert.ok(counts[0]!.cc_error > 10 && counts[0]!.transport_error > 10 && counts[0]!.crc_error === 1);
});

test('property: a clean synthetic stream with random batching never raises or counts an error', () => {
  const s = generate({ ms: 4000, pcrEveryMs: 80, psiEveryMs: 100 });
  const n = s.times.length;
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 50 }), (sizes) => {
    const events: AlarmEvent[] = [];
    const c = new Tr101290({ onAlarm: (e) => events.push(e) });
    for (let i = 0, k = 0; i < n; k++) {
      const j = Math.min(n, i + sizes[k % sizes.length]!);
      c.push(s.buf, i * PKT, j - i, s.times[j - 1]!);
      i = j;
    }
    assert.deepEqual(c.counts(), ZERO);
    assert.deepEqual(events, []);
  }), { numRuns: 40 });
});
