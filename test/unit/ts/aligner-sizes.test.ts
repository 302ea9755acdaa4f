// Packet size detection at lock time (issue 13): 192-byte M2TS/BDAV packets (made by
// ffmpeg) and 204-byte packets with Reed-Solomon parity (made by a builder) come out as
// the same 188-byte packets, however the input is split.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TsAligner } from '../../../src/ts/aligner.js';
import { burstPattern, frame, randomPackets, rng } from '../../helpers/garbage.js';
import { PKT } from '../../helpers/packets.js';

function run(chunks: Buffer[]): { out: Buffer; a: TsAligner; locks: number[] } {
  const parts: Buffer[] = [];
  const locks: number[] = [];
  const a = new TsAligner((buf, off, n) => { parts.push(Buffer.from(buf.subarray(off, off + n * PKT))); }, (size) => locks.push(size));
  for (const c of chunks) a.push(c);
  a.flushEnd();
  return { out: Buffer.concat(parts), a, locks };
}

function hasFfmpeg(): boolean {
  try { execFileSync('ffmpeg', ['-version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** Strip the 4-byte timestamp of each 192-byte unit. */
function m2tsTo188(m: Buffer): Buffer {
  const n = m.length / 192;
  const out = Buffer.alloc(n * PKT);
  for (let i = 0; i < n; i++) m.copy(out, i * PKT, i * 192 + 4, i * 192 + 192);
  return out;
}

test('192-byte packets made by ffmpeg (-mpegts_m2ts_mode 1): 188-byte packets out, split at every offset', { skip: !hasFfmpeg() && 'ffmpeg not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'aligner-m2ts-'));
  try {
    const f = join(dir, 'clip.m2ts');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25',
      '-t', '0.4', '-c:v', 'libx264', '-preset', 'veryfast', '-f', 'mpegts', '-mpegts_m2ts_mode', '1', f]);
    const m2ts = readFileSync(f);
    assert.equal(m2ts.length % 192, 0, 'ffmpeg wrote whole 192-byte units');
    assert.notEqual(m2ts[0], 0x47, 'a unit starts with its timestamp, not the sync byte');
    const want = m2tsTo188(m2ts);
    const whole = run([m2ts]);
    assert.deepEqual(whole.locks, [192]);
    assert.equal(whole.a.packetSize, 192);
    assert.ok(whole.out.equals(want), 'one read');
    // ffprobe reads the converted stream as ordinary MPEG-TS.
    const probed = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', '-f', 'mpegts', '-'], { input: whole.out }).toString();
    assert.deepEqual([...new Set(probed.split(/\s+/).filter(Boolean))], ['h264']);
    for (let cut = 1; cut < m2ts.length; cut++) {
      const { out } = run([m2ts.subarray(0, cut), m2ts.subarray(cut)]);
      if (!out.equals(want)) assert.fail(`cut at ${cut}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('204-byte packets (188 + 16 parity bytes): 188-byte packets out, split at every offset', () => {
  const r = rng(204);
  const packets = Buffer.concat(randomPackets(40, [0, 0x1000, 0x100, 0x101], r));
  const input = frame(packets, 204, r);
  const whole = run([input]);
  assert.deepEqual(whole.locks, [204]);
  assert.ok(whole.out.equals(packets));
  for (let cut = 1; cut < input.length; cut++) {
    const { out } = run([input.subarray(0, cut), input.subarray(cut)]);
    if (!out.equals(packets)) assert.fail(`cut at ${cut}`);
  }
});

test('192 and 204 with leading garbage and 0x47-rich garbage bursts: exactly the intact packets, split at every offset', () => {
  for (const size of [192, 204] as const) {
    const r = rng(size + 1);
    const packets = randomPackets(90, [0, 0x1000, 0x11, 0x100, 0x101, 0x100], r);
    // Frame each packet, then insert garbage between framed units.
    const units: Buffer[] = [];
    for (const p of packets) units.push(frame(p, size, r));
    const { input } = burstPattern(units, 30, 37, 1 / 3, r);
    const lead = Buffer.from('not a transport stream, just text\n');
    const full = Buffer.concat([lead, input]);
    const want = Buffer.concat(packets);
    for (let cut = 1; cut < full.length; cut++) {
      const { out, a } = run([full.subarray(0, cut), full.subarray(cut)]);
      if (!out.equals(want)) assert.fail(`${size}: cut at ${cut} (${out.length / PKT} of ${packets.length})`);
      assert.equal(a.packetSize, size);
    }
  }
});

test('188-byte input is not mistaken for 192 or 204', () => {
  const r = rng(188);
  const packets = Buffer.concat(randomPackets(30, [0, 0x100], r));
  const { out, locks } = run([packets]);
  assert.deepEqual(locks, [188]);
  assert.ok(out.equals(packets));
});
