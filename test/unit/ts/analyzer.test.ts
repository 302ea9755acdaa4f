import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { StreamAnalyzer, setDiscontinuity } from '../../../src/ts/analyzer.js';
import { RAP_NO, RAP_UNDECIDED, RAP_YES, RapScanner, VideoKind } from '../../../src/ts/rap.js';
import { H264_DELTA, H264_KEY, Mux, PKT, patSection, pes, pmtSection } from '../../helpers/packets.js';

const fixturePath = (name: string): string => fileURLToPath(new URL(`../../fixtures/mpegts/${name}`, import.meta.url));
const load = (name: string): Buffer => readFileSync(fixturePath(name));
const FIXTURES = ['h264_aac.mpegts', 'hevc_aac.mpegts', 'mpeg2_mp2.mpegts'];

function haveFfprobe(): boolean {
  try { execFileSync('ffprobe', ['-version'], { stdio: 'ignore', timeout: 5000 }); return true; } catch { return false; }
}
const FFPROBE = haveFfprobe();

/** The parts of ffprobe's `-of json` output the tests read (it writes ids, positions and times as strings). */
interface ProbeProgram { program_num: number; pmt_pid: number; pcr_pid: number }
interface ProbeStream { id: string; codec_name: string; codec_type: string }
interface ProbePacket { pos: string; flags: string; dts_time: string }

function ffprobe(path: string, args: string[]): unknown {
  return JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-of', 'json', ...args, path], { timeout: 20_000 }).toString());
}

/** Feeds packets one at a time; returns the analyzer and every RAP index in order. */
function perPacket(ts: Buffer): { a: StreamAnalyzer; raps: number[] } {
  const a = new StreamAnalyzer(() => 0);
  const raps: number[] = [];
  for (let i = 0, seen = 0; i < ts.length / PKT; i++) {
    a.scan(ts, i * PKT, 1, i);
    if (a.rapCount !== seen) { raps.push(a.lastRapIndex); seen = a.rapCount; }
  }
  return { a, raps };
}

function snapshot(a: StreamAnalyzer): unknown {
  return {
    pat: a.patIndex, pmt: a.pmtIndex, rap: a.lastRapIndex, rapTime: a.rapTimeMs, rapCount: a.rapCount,
    video: a.videoPid, codec: a.videoCodec, programs: a.programs, pcrPids: a.pcrPids,
    cc: a.continuityErrors, crc: a.crcErrors, gopPackets: a.gopPackets, gopMs: a.gopMs,
    patPackets: a.patPackets, pmtPackets: a.pmtPackets,
  };
}

function stripRai(ts: Buffer): Buffer {
  const out = Buffer.from(ts);
  for (let o = 0; o < out.length; o += PKT) if ((out[o + 3]! & 0x20) !== 0 && out[o + 4]! > 0) out[o + 5] = out[o + 5]! & ~0x40;
  return out;
}

for (const name of FIXTURES) {
  test(`${name}: PIDs, codecs, keyframes and GOP agree with ffprobe`, (t) => {
    if (!FFPROBE) return t.skip('ffprobe not installed');
    if (!existsSync(fixturePath(name))) return t.skip(`${name} missing (ffmpeg without libx265?): run test/fixtures/mpegts/make.sh`);
    const ts = load(name);
    const { a, raps } = perPacket(ts);
    const probe = ffprobe(fixturePath(name), ['-show_programs', '-show_streams']) as { programs: ProbeProgram[]; streams: ProbeStream[] };
    const prog = probe.programs[0];
    assert.ok(prog, 'ffprobe lists a program');
    assert.equal(a.programs.length, probe.programs.length);
    assert.equal(a.programs[0]!.program, prog.program_num);
    assert.equal(a.programs[0]!.pmtPid, prog.pmt_pid);
    assert.equal(a.programs[0]!.pcrPid, prog.pcr_pid);
    assert.deepEqual(a.pcrPids, [prog.pcr_pid]);
    assert.deepEqual(
      a.programs[0]!.streams.map((s) => [s.pid, s.codec]),
      probe.streams.map((s) => [Number(s.id), s.codec_name]),
    );
    const video = probe.streams.find((s) => s.codec_type === 'video');
    assert.ok(video, 'ffprobe lists a video stream');
    assert.equal(a.videoPid, Number(video.id));
    assert.equal(a.videoCodec, video.codec_name);

    const pkts = (ffprobe(fixturePath(name), ['-select_streams', 'v', '-show_entries', 'packet=pos,flags,dts_time']) as { packets: ProbePacket[] }).packets;
    const keys = pkts.filter((p) => p.flags.includes('K'));
    const keyIndexes = keys.map((p) => Number(p.pos) / PKT);
    assert.ok(keyIndexes.length >= 3, 'fixture has several GOPs');
    assert.deepEqual(raps, keyIndexes);
    // Without the muxer's random_access_indicator, the NAL / picture headers alone must tell.
    assert.deepEqual(perPacket(stripRai(ts)).raps, keyIndexes);
    // Not every PES is a keyframe: the analyzer did look at the others and said no.
    assert.ok(pkts.length > keys.length * 5);

    const last = keys.slice(-8);
    const first = last[0]!, end = last.at(-1)!; // several GOPs, asserted above
    const meanPackets = (Number(end.pos) - Number(first.pos)) / PKT / (last.length - 1);
    const meanMs = ((Number(end.dts_time) - Number(first.dts_time)) * 1000) / (last.length - 1);
    assert.equal(a.gopPackets, meanPackets);
    assert.ok(Math.abs(a.gopMs - meanMs) < 40, `gopMs ${a.gopMs} vs keyframe DTS ${meanMs}`);
    assert.equal(a.continuityErrors, 0);
    assert.equal(a.crcErrors, 0);
    // The kept copies are the tables' packets (the muxer repeats them unchanged but for CC).
    const noCc = (b: Buffer): Buffer => { const c = Buffer.from(b); c[3] = c[3]! & 0xf0; return c; };
    assert.deepEqual(noCc(a.patPackets!), noCc(ts.subarray(a.patIndex * PKT, (a.patIndex + 1) * PKT)));
    assert.deepEqual(noCc(a.pmtPackets!), noCc(ts.subarray(a.pmtIndex * PKT, (a.pmtIndex + 1) * PKT)));
    assert.equal(((a.patPackets![1]! & 0x1f) << 8) | a.patPackets![2]!, 0);
    assert.equal(((a.pmtPackets![1]! & 0x1f) << 8) | a.pmtPackets![2]!, prog.pmt_pid);
  });
}

test('split invariance: random batch sizes give the same state at every batch end', () => {
  const ts = load('h264_aac.mpegts');
  const n = ts.length / PKT;
  // Reference: the state after every single packet.
  const ref: string[] = [];
  const r = new StreamAnalyzer(() => 0);
  for (let i = 0; i < n; i++) {
    r.scan(ts, i * PKT, 1, i);
    ref.push(JSON.stringify([r.patIndex, r.pmtIndex, r.lastRapIndex, r.rapCount, r.videoPid, r.continuityErrors, r.gopPackets, r.gopMs]));
  }
  const whole = new StreamAnalyzer(() => 0);
  whole.scan(ts, 0, n, 0);
  assert.deepEqual(snapshot(whole), snapshot(r));
  fc.assert(fc.property(fc.array(fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 300 })), { minLength: 1, maxLength: 200 }), (sizes) => {
    const a = new StreamAnalyzer(() => 0);
    const base = 1_000_000; // absolute indexes need not start at 0
    let i = 0, k = 0;
    while (i < n) {
      const c = Math.min(sizes[k++ % sizes.length]!, n - i);
      a.scan(ts, i * PKT, c, base + i);
      i += c;
      const s = JSON.parse(ref[i - 1]!) as number[];
      for (const j of [0, 1, 2]) if (s[j]! >= 0) s[j]! += base;
      assert.deepEqual([a.patIndex, a.pmtIndex, a.lastRapIndex, a.rapCount, a.videoPid, a.continuityErrors, a.gopPackets, a.gopMs], s);
    }
    assert.deepEqual(a.programs, r.programs);
    assert.deepEqual(a.patPackets, r.patPackets);
    assert.deepEqual(a.pmtPackets, r.pmtPackets);
  }), { numRuns: 60 });
});

test('split invariance: every two-batch cut of a stream', () => {
  const ts = load('mpeg2_mp2.mpegts');
  const n = ts.length / PKT;
  const ref = new StreamAnalyzer(() => 0);
  ref.scan(ts, 0, n, 0);
  const want = JSON.stringify(snapshot(ref));
  for (let cut = 0; cut <= n; cut += 1) {
    const a = new StreamAnalyzer(() => 0);
    a.scan(ts, 0, cut, 0);
    a.scan(ts, cut * PKT, n - cut, cut);
    assert.equal(JSON.stringify(snapshot(a)), want, `cut at ${cut}`);
  }
});

function packetsOf(ts: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o < ts.length; o += PKT) out.push(Buffer.from(ts.subarray(o, o + PKT)));
  return out;
}
const pidOf = (p: Buffer): number => ((p[1]! & 0x1f) << 8) | p[2]!;
const ccErrors = (pkts: Buffer[]): number => {
  const a = new StreamAnalyzer();
  const ts = Buffer.concat(pkts);
  a.scan(ts, 0, pkts.length, 0);
  return a.continuityErrors;
};

test('continuity: clean streams count 0, each deleted packet counts 1', () => {
  for (const name of FIXTURES) if (existsSync(fixturePath(name))) assert.equal(ccErrors(packetsOf(load(name))), 0, name);
  const pkts = packetsOf(load('mpeg2_mp2.mpegts')); // has null packets, which have no CC rule
  assert.ok(pkts.some((p) => pidOf(p) === 0x1fff));
  // Delete isolated payload packets: their PID's next packet follows with payload.
  const del = new Set<number>();
  const lastDeleted = new Map<number, number>();
  for (let i = 10; i < pkts.length - 200 && del.size < 25; i += 29) {
    const pid = pidOf(pkts[i]!);
    if (pid === 0x1fff || (pkts[i]![3]! & 0x10) === 0 || i - (lastDeleted.get(pid) ?? -1e9) < 100) continue;
    const next = pkts.findIndex((p, j) => j > i && pidOf(p) === pid);
    if (next < 0 || (pkts[next]![3]! & 0x10) === 0) continue;
    del.add(i);
    lastDeleted.set(pid, i);
  }
  assert.ok(del.size >= 10);
  assert.equal(ccErrors(pkts.filter((_, i) => !del.has(i))), del.size);
});

test('continuity: one duplicate is legal, two are not; discontinuity_indicator and TEI excuse a jump', () => {
  const pkts = packetsOf(load('h264_aac.mpegts'));
  const i = pkts.findIndex((p, j) => j > 20 && pidOf(p) === 0x100 && (p[3]! & 0x10) !== 0);
  const dup1 = [...pkts.slice(0, i + 1), pkts[i]!, ...pkts.slice(i + 1)];
  assert.equal(ccErrors(dup1), 0);
  const dup2 = [...pkts.slice(0, i + 1), pkts[i]!, pkts[i]!, ...pkts.slice(i + 1)];
  assert.equal(ccErrors(dup2), 1);
  // A gap followed by a packet flagged discontinuous is not an error.
  const k = pkts.findIndex((p, j) => j > 50 && pidOf(p) === 0x100 && (p[3]! & 0x30) === 0x30 && p[4]! > 0);
  const prev = pkts.slice(0, k).map(pidOf).lastIndexOf(0x100);
  const gap = pkts.filter((_, j) => j !== prev);
  assert.equal(ccErrors(gap), 1);
  const flagged = gap.map((p) => Buffer.from(p));
  assert.equal(setDiscontinuity(flagged[k - 1]!, 0), true);
  assert.equal(ccErrors(flagged), 0);
  // A packet with transport_error_indicator is ignored (its header cannot be trusted).
  const bad = Buffer.from(pkts[i]!);
  bad[1] = bad[1]! | 0x80;
  bad[3] = (bad[3]! & 0xf0) | ((bad[3]! + 5) & 0x0f);
  assert.equal(ccErrors([...pkts.slice(0, i), bad, ...pkts.slice(i)]), 0);
});

/** PAT + PMT (+ optional extra) then video PES on 0x100. */
function program(pmtVersion: number, videoPid = 0x100, videoType = 0x1b): { pat: Buffer; pmt: Buffer } {
  return {
    pat: patSection(0, [[1, 0x1000]]),
    pmt: pmtSection(1, pmtVersion, videoPid, [{ type: videoType, pid: videoPid }, { type: 0x0f, pid: 0x101 }]),
  };
}

test('PSI: repeats do not recopy, a version change is picked up, a bad CRC is rejected', () => {
  const m = new Mux();
  const v0 = program(0);
  const pat1 = m.psi(0, v0.pat);
  const pmt1 = m.psi(0x1000, v0.pmt);
  const key1 = m.pes(0x100, pes(H264_KEY), { pcr: 0 });
  m.pes(0x100, pes(H264_DELTA));
  const ts1 = m.buffer();
  const a = new StreamAnalyzer(() => 42);
  a.scan(ts1, 0, ts1.length / PKT, 0);
  assert.deepEqual([a.patIndex, a.pmtIndex, a.lastRapIndex, a.rapTimeMs, a.videoPid], [pat1, pmt1, key1, 42, 0x100]);
  assert.deepEqual(a.patPackets, ts1.subarray(pat1 * PKT, (pat1 + 1) * PKT));
  const patCopy = a.patPackets, pmtCopy = a.pmtPackets;

  const n1 = m.packets.length;
  const pat2 = m.psi(0, v0.pat);
  const pmt2 = m.psi(0x1000, v0.pmt);
  const bad = Buffer.from(v0.pat);
  bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
  m.psi(0, bad);
  const v1 = program(1, 0x200, 0x24);
  const pmt3 = m.psi(0x1000, v1.pmt);
  const key2 = m.pes(0x200, pes([0, 0, 1, 0x26, 0x01, 0xaf]), { pcr: 27_000_000 }); // HEVC IDR_W_RADL
  const ts = m.buffer();
  a.scan(ts, n1 * PKT, 2, n1);
  assert.deepEqual([a.patIndex, a.pmtIndex], [pat2, pmt2]);
  assert.equal(a.patPackets, patCopy); // same content: the very same copy
  assert.equal(a.pmtPackets, pmtCopy);
  a.scan(ts, (n1 + 2) * PKT, m.packets.length - n1 - 2, n1 + 2);
  assert.equal(a.crcErrors, 1);
  assert.equal(a.patIndex, pat2); // the corrupt PAT did not count
  assert.equal(a.pmtIndex, pmt3);
  assert.deepEqual(a.pmtPackets, ts.subarray(pmt3 * PKT, (pmt3 + 1) * PKT));
  assert.deepEqual(a.programs, [{ program: 1, pmtPid: 0x1000, pcrPid: 0x200, streams: [
    { pid: 0x200, streamType: 0x24, codec: 'hevc' }, { pid: 0x101, streamType: 0x0f, codec: 'aac' }] }]);
  assert.deepEqual([a.videoPid, a.videoCodec, a.lastRapIndex, a.rapCount], [0x200, 'hevc', key2, 2]);
  assert.equal(a.continuityErrors, 0);

  a.reset();
  assert.deepEqual([a.patIndex, a.pmtIndex, a.lastRapIndex, a.videoPid, a.programs.length, a.patPackets, a.pmtPackets, a.gopPackets],
    [-1, -1, -1, -1, 0, undefined, undefined, -1]);
  a.scan(ts, n1 * PKT, 2, 5000); // works again from scratch, with no CC error for the jump
  assert.deepEqual([a.patIndex, a.pmtIndex, a.videoPid, a.continuityErrors], [5000, 5001, 0x100, 0]);
});

test('PSI: a PMT PID change, a PMT spanning packets, a not-yet-current section', () => {
  const m = new Mux();
  m.psi(0, patSection(0, [[1, 0x1000]]));
  m.psi(0, patSection(2, [[1, 0x1200]], false)); // not yet current: ignored
  m.psi(0x1200, pmtSection(1, 0, 0x500, [{ type: 0x1b, pid: 0x500 }])); // so this is too
  m.psi(0, patSection(1, [[1, 0x1100]]));
  m.psi(0x1000, pmtSection(1, 0, 0x100, [{ type: 0x1b, pid: 0x100 }])); // stale PID: ignored
  const streams = Array.from({ length: 60 }, (_, i) => ({ type: i === 0 ? 0x1b : 0x06, pid: 0x400 + i }));
  const big = m.psi(0x1100, pmtSection(1, 0, 0x400, streams));
  const ts = m.buffer();
  const a = new StreamAnalyzer();
  a.scan(ts, 0, ts.length / PKT, 0);
  assert.equal(a.pmtIndex, big);
  assert.equal(a.pmtPackets!.length, 2 * PKT);
  assert.deepEqual(a.pmtPackets, ts.subarray((big - 1) * PKT, (big + 1) * PKT));
  assert.equal(a.programs[0]!.pmtPid, 0x1100);
  assert.equal(a.programs[0]!.streams.length, 60);
  assert.equal(a.videoPid, 0x400);
});

test('RAP: keyframe NAL found wherever the PES splits it across the first two packets', () => {
  for (let split = 14; split <= H264_KEY.length + 14; split++) {
    for (const [es, key] of [[H264_KEY, true], [H264_DELTA, false]] as const) {
      const m = new Mux();
      const v = program(0);
      m.psi(0, v.pat);
      m.psi(0x1000, v.pmt);
      const at = m.pes(0x100, pes(es), { firstPayload: Math.min(split, 14 + es.length - 1) });
      m.pes(0x100, pes(H264_DELTA));
      const ts = m.buffer();
      const { a, raps } = perPacket(ts);
      assert.deepEqual(raps, key ? [at] : [], `split ${split}`);
      assert.equal(a.rapCount, key ? 1 : 0);
    }
  }
});

test('RAP: random_access_indicator alone marks a keyframe; SPS before a late IDR does too', () => {
  const m = new Mux();
  const v = program(0);
  m.psi(0, v.pat);
  m.psi(0x1000, v.pmt);
  const a1 = m.pes(0x100, pes([0, 0, 1, 0x09, 0x10, 0, 0, 1, 0x41]), { rai: true }); // flagged: trusted
  m.pes(0x100, pes(H264_DELTA));
  // AUD, SPS, a 600-byte SEI, then IDR in the fourth packet: decided on the SPS.
  const sei = [0, 0, 1, 0x06, ...Array<number>(600).fill(0x55)];
  const a2 = m.pes(0x100, pes([0, 0, 0, 1, 0x09, 0x10, 0, 0, 1, 0x67, 0x42, ...sei, 0, 0, 1, 0x65, 0x88]));
  m.pes(0x100, pes([0, 0, 0, 1, 0x09, 0x10, ...sei, 0, 0, 1, 0x65, 0x88])); // no SPS, IDR too far: missed
  assert.deepEqual(perPacket(m.buffer()).raps, [a1, a2]);
});

test('RapScanner: H.264, HEVC and MPEG-2 decisions hold at every split point', () => {
  const cases: [VideoKind, number[], number][] = [
    [VideoKind.H264, H264_KEY, RAP_YES],
    [VideoKind.H264, H264_DELTA, RAP_NO],
    [VideoKind.H264, [0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x41, 0x9a], RAP_YES], // SPS + non-IDR: recovery point
    [VideoKind.Hevc, [0, 0, 0, 1, 0x46, 0x01, 0x50, 0, 0, 1, 0x40, 0x01, 0x0c, 0, 0, 1, 0x2a, 0x01, 0xaf], RAP_YES], // AUD VPS CRA
    [VideoKind.Hevc, [0, 0, 1, 0x46, 0x01, 0x50, 0, 0, 1, 0x02, 0x01, 0xd0], RAP_NO], // AUD TRAIL_R
    [VideoKind.Mpeg2, [0, 0, 1, 0xb3, 0x0a, 0x00], RAP_YES],
    [VideoKind.Mpeg2, [0, 0, 1, 0xb8, 0, 8, 0, 0, 0, 0, 1, 0x00, 0x00, 0x0f, 0xff], RAP_YES], // GOP, I picture
    [VideoKind.Mpeg2, [0, 0, 1, 0x00, 0x01, 0x16, 0xff], RAP_NO], // P picture
    [VideoKind.Mpeg2, [0, 0, 1, 0x00, 0x01, 0x1e, 0xff], RAP_NO], // B picture
  ];
  const s = new RapScanner();
  for (const [kind, bytes, want] of cases) {
    const data = Uint8Array.from(bytes);
    for (let cut = 0; cut <= data.length; cut++) {
      s.begin(kind);
      let r = s.feed(data, 0, cut);
      if (r === RAP_UNDECIDED) r = s.feed(data, cut, data.length);
      assert.equal(r, want, `kind ${kind} cut ${cut}`);
    }
  }
  s.begin(VideoKind.H264, 3); // skip: a PES header running into the next packet
  assert.equal(s.feed(Uint8Array.from([0, 0, 1, 0x65, 0, 0, 1, 0x41]), 0, 8), RAP_NO);
});

test('GOP estimate by PCR, and by the clock when there is no PCR', () => {
  for (const withPcr of [true, false]) {
    const m = new Mux();
    const v = program(0);
    m.psi(0, v.pat);
    m.psi(0x1000, withPcr ? v.pmt : pmtSection(1, 0, 0x1fff, [{ type: 0x1b, pid: 0x100 }]));
    for (let g = 0; g < 10; g++) {
      m.pes(0x100, pes(H264_KEY), withPcr ? { pcr: g * 2 * 27_000_000 } : {});
      for (let f = 0; f < 9; f++) m.pes(0x100, pes(H264_DELTA));
    }
    const ts = m.buffer();
    let clock = 0;
    const a = new StreamAnalyzer(() => clock);
    for (let i = 0; i < ts.length / PKT; i++, clock += 100) a.scan(ts, i * PKT, 1, i);
    assert.equal(a.gopPackets, 10);
    assert.equal(a.gopMs, withPcr ? 2000 : 1000);
    assert.deepEqual(a.pcrPids, withPcr ? [0x100] : []);
  }
});
