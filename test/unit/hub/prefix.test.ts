// What a client gets before its first ring packet (src/hub/prefix.ts): PAT/PMT copies whose
// continuity counters run into the ring, splice markers, and null-packet keep-alives.
// Fed as the hub feeds them: analyzer, ring, then the continuity continuer on the ring.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { continuePrefixCc, nullPackets, startPrefix } from '../../../src/hub/prefix.js';
import { PacketRing } from '../../../src/hub/ring.js';
import { StreamAnalyzer } from '../../../src/ts/analyzer.js';
import { CcContinuer } from '../../../src/ts/continuity.js';
import { checkStream } from '../../helpers/continuity.js';
import { H264_DELTA, H264_KEY, Mux, makePacket, patSection, pes, pmtSection, PKT } from '../../helpers/packets.js';

const PMT_PID = 0x1000;
const VIDEO = 0x100;
const AUDIO = 0x101;

/** The hub's write path without the hub: analysis, the ring, counters continued in place. */
class Feed {
  readonly ring = new PacketRing(4096);
  readonly a = new StreamAnalyzer(() => 0);
  readonly cc = new CcContinuer();
  push(ts: Buffer): void {
    const n = ts.length / PKT;
    const start = this.ring.head;
    this.a.scan(ts, 0, n, start);
    this.ring.write(ts, 0, n);
    this.ring.forRuns(start, this.ring.head, (b, off, count) => { for (let i = 0; i < count; i++) this.cc.apply(b, off + i * PKT); });
  }
  /** An upstream switch, as the hub ends a session. */
  join(): void { this.a.reset(); this.cc.join(); }
  from(i: number): Buffer { return this.ring.copyOut(i, this.ring.head); }
}

/** PAT, PMT (video + audio), a keyframe and some GOP; `tables` more PAT/PMT after the keyframe. */
function gop(m: Mux, tables: boolean): Buffer {
  const psi = () => {
    m.psi(0, patSection(0, [[1, PMT_PID]]));
    m.psi(PMT_PID, pmtSection(1, 0, VIDEO, [{ type: 0x1b, pid: VIDEO }, { type: 0x0f, pid: AUDIO }]));
  };
  psi();
  m.pes(VIDEO, pes([...H264_KEY, ...new Array<number>(400).fill(0x11)]), { rai: true, pcr: 27_000_000 });
  m.pes(AUDIO, Buffer.from([0, 0, 1, 0xc0, 0, 0, 0x80, 0, 0, ...new Array<number>(250).fill(0x22)]));
  m.pes(VIDEO, pes(H264_DELTA));
  if (tables) psi();
  m.pes(AUDIO, Buffer.from([0, 0, 1, 0xc0, 0, 0, 0x80, 0, 0, 1, 2, 3]));
  m.pes(VIDEO, pes(H264_DELTA));
  const out = m.buffer();
  m.packets.length = 0;
  return out;
}

const pidOf = (b: Buffer, o: number): number => ((b[o + 1]! & 0x1f) << 8) | b[o + 2]!;
const pids = (b: Buffer): number[] => Array.from({ length: b.length / PKT }, (_, i) => pidOf(b, i * PKT));
/** Counter of the first payload packet of `pid` in `b`. */
const firstCc = (b: Buffer, pid: number): number => {
  for (let o = 0; o < b.length; o += PKT) if (pidOf(b, o) === pid && (b[o + 3]! & 0x10) !== 0) return b[o + 3]! & 0x0f;
  throw new Error(`no packet of pid ${pid}`);
};
/** Each copy must carry the counter just before the next one from the ring (not the same: that would be a duplicate). */
function assertRunsInto(prefix: Buffer, ring: Buffer): void {
  for (const pid of [0, PMT_PID]) assert.equal(firstCc(prefix, pid), (firstCc(ring, pid) + 15) & 0x0f, `pid ${pid}`);
}
const hasDiscontinuity = (b: Buffer, o: number): boolean => (b[o + 3]! & 0x20) !== 0 && b[o + 4]! > 0 && (b[o + 5]! & 0x80) !== 0;

test('nullPackets: n packets on PID 0x1FFF, payload only, all stuffing', () => {
  const b = nullPackets(7);
  assert.equal(b.length, 7 * PKT);
  for (let o = 0; o < b.length; o += PKT) {
    assert.equal(b[o], 0x47);
    assert.equal(pidOf(b, o), 0x1fff);
    assert.equal(b[o + 3], 0x10);
    assert.ok(b.subarray(o + 4, o + PKT).every((x) => x === 0xff));
  }
  assert.equal(checkStream(b).syncErrors, 0);
});

test('startPrefix: nothing before a PAT and PMT are known', () => {
  const f = new Feed();
  assert.equal(startPrefix(f.a, f.ring, 0, f.cc, false), undefined);
});

test('startPrefix: PAT and PMT copies whose counters run into the ring from the keyframe (final once the next tables are in)', () => {
  const f = new Feed();
  const m = new Mux();
  f.push(gop(m, true));
  f.push(gop(m, true)); // counters no longer start at 0
  const pat = Buffer.from(f.a.patPackets!);
  const rap = f.a.lastRapIndex;
  assert.ok(rap > 0);
  const r = startPrefix(f.a, f.ring, rap, f.cc, false)!;
  assert.deepEqual(pids(r.buf), [0, PMT_PID]);
  assert.equal(r.final, true);
  assertRunsInto(r.buf, f.from(rap));
  const check = checkStream(Buffer.concat([r.buf, f.from(rap)]));
  assert.equal(check.ccErrors, 0, check.notes.join('; '));
  assert.equal(check.discontinuities, 0, 'no splice: no flags');
  assert.deepEqual(f.a.patPackets, pat, 'the analyzer\'s own copies are left alone');
});

test('startPrefix: with no later PAT/PMT in the ring yet, the copies continue the last counters (not final)', () => {
  const f = new Feed();
  const m = new Mux();
  f.push(gop(m, true));
  f.push(gop(m, false));
  const rap = f.a.lastRapIndex;
  const r = startPrefix(f.a, f.ring, rap, f.cc, false)!;
  assert.equal(r.final, false);
  f.push(gop(m, true)); // the next tables arrive after the client started
  assertRunsInto(r.buf, f.from(rap));
  const check = checkStream(Buffer.concat([r.buf, f.from(rap)]));
  assert.equal(check.ccErrors, 0, check.notes.join('; '));
});

test('startPrefix splice: after an upstream switch every PID\'s first packet is flagged and no counter jumps', () => {
  const f = new Feed();
  f.push(gop(new Mux(), true));
  const seen = f.from(0); // what a client watching through the switch already has
  f.join();
  const second = new Mux(); // a new upstream: its counters start over
  second.pes(AUDIO, Buffer.from([0, 0, 1, 0xc0, 0, 0, 0x80, 0, 0, 9])); // audio before the first tables
  const early = second.buffer();
  second.packets.length = 0;
  f.push(Buffer.concat([early, gop(second, true)]));
  const rap = f.a.lastRapIndex;
  const r = startPrefix(f.a, f.ring, rap, f.cc, true)!;
  const after = Buffer.concat([r.buf, f.from(rap)]);
  assertRunsInto(r.buf, f.from(rap));
  const check = checkStream(Buffer.concat([seen, after]));
  assert.equal(check.ccErrors, 0, check.notes.join('; '));
  // The first packet of each PID after the splice carries discontinuity_indicator.
  const first = new Map<number, number>();
  for (let o = 0; o < after.length; o += PKT) if (!first.has(pidOf(after, o))) first.set(pidOf(after, o), o);
  for (const pid of [0, PMT_PID, VIDEO, AUDIO]) {
    assert.ok(first.has(pid), `pid ${pid} present`);
    assert.ok(hasDiscontinuity(after, first.get(pid)!), `pid ${pid}: first packet flagged`);
  }
  // Markers for the elementary streams: adaptation field only, no payload.
  const markers = pids(r.buf).map((pid, i) => ({ pid, o: i * PKT })).filter((x) => x.pid === VIDEO || x.pid === AUDIO);
  assert.deepEqual(markers.map((x) => x.pid), [VIDEO, AUDIO], 'PCR/video first, then audio');
  for (const x of markers) assert.equal(r.buf[x.o + 3]! & 0x30, 0x20);
});

test('continuePrefixCc: copies end one before the next payload packet of their PID; several copies count down; adaptation-only ones are left alone', () => {
  const ring = new PacketRing(16);
  // In the ring from index 0: video cc 2, PAT cc 9, PMT cc 4.
  ring.write(Buffer.concat([makePacket(VIDEO, 2, 0), makePacket(0, 9, 1), makePacket(PMT_PID, 4, 2)]), 0, 3);
  const af = makePacket(0, 15, 3);
  af[3] = 0x20 | 15; // adaptation only: does not advance the counter
  const prefix = Buffer.concat([makePacket(0, 0, 10), makePacket(0, 0, 11), af, makePacket(PMT_PID, 0, 12)]);
  assert.equal(continuePrefixCc(prefix, ring, 0, () => -1), true);
  assert.deepEqual(Array.from({ length: 4 }, (_, i) => prefix[i * PKT + 3]! & 0x0f), [7, 8, 15, 3]);
  assert.equal(prefix[2 * PKT + 3], 0x20 | 15);
});

test('continuePrefixCc: a PID not in the ring after `from` continues its last counter; unknown, it is left as it is (not final)', () => {
  const ring = new PacketRing(16);
  ring.write(Buffer.concat([makePacket(0, 9, 1), makePacket(VIDEO, 2, 0)]), 0, 2);
  const prefix = Buffer.concat([makePacket(0, 0, 10), makePacket(PMT_PID, 6, 12)]);
  const last = (pid: number): number => (pid === 0 ? 12 : -1);
  assert.equal(continuePrefixCc(prefix, ring, 1, last), false, 'PAT at 0 is before `from`');
  assert.equal(prefix[3]! & 0x0f, 12, 'PAT: the next one will be 13');
  assert.equal(prefix[PKT + 3]! & 0x0f, 6, 'PMT: nothing known, unchanged');
});
