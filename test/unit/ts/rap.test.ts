import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { payloadOffset, pid, pusi } from '../../../src/ts/packet.js';
import { RAP_NO, RAP_UNDECIDED, RAP_YES, RapScanner, VideoKind, videoKindOf } from '../../../src/ts/rap.js';
import { H264_DELTA, H264_KEY, PKT, pes } from '../../helpers/packets.js';

const SC = [0, 0, 1];
const bytes = (...parts: number[][]) => Buffer.from(parts.flat());

/** The scanner's answer for `data` fed in one piece, then finish() if still undecided. */
function decide(kind: VideoKind, data: Buffer, skip = 0): boolean {
  const s = new RapScanner();
  s.begin(kind, skip);
  const r = s.feed(data, 0, data.length);
  return r === RAP_UNDECIDED ? s.finish() : r === RAP_YES;
}

test('videoKindOf maps PMT stream types to scanners (none for audio and data)', () => {
  assert.equal(videoKindOf(0x1b), VideoKind.H264);
  assert.equal(videoKindOf(0x24), VideoKind.Hevc);
  assert.equal(videoKindOf(0x01), VideoKind.Mpeg2);
  assert.equal(videoKindOf(0x02), VideoKind.Mpeg2);
  for (const t of [0x03, 0x0f, 0x81, 0x06, 0x15]) assert.equal(videoKindOf(t), VideoKind.None, `0x${t.toString(16)}`);
});

test('H.264: an IDR slice is key; a non-IDR slice is key only after an SPS in the same access unit', () => {
  assert.equal(decide(VideoKind.H264, Buffer.from(H264_KEY)), true);
  assert.equal(decide(VideoKind.H264, Buffer.from(H264_DELTA)), false);
  // Open GOP / recovery point: SPS, PPS, then a non-IDR slice (type 1).
  assert.equal(decide(VideoKind.H264, bytes(SC, [0x67, 0x42], SC, [0x68, 0xce], SC, [0x41, 0x9a])), true);
  // An IDR without parameter sets before it is still key (type 5).
  assert.equal(decide(VideoKind.H264, bytes(SC, [0x65, 0x88])), true);
  // Partition A (type 2) without an SPS: not key.
  assert.equal(decide(VideoKind.H264, bytes(SC, [0x09, 0xf0], SC, [0x42, 0x00])), false);
});

test('HEVC: BLA, IDR and CRA (16-21) are key, other slices are not', () => {
  const nal = (type: number) => [(type << 1) & 0x7e, 0x01];
  for (const t of [16, 19, 20, 21]) assert.equal(decide(VideoKind.Hevc, bytes(SC, nal(35), SC, nal(t))), true, `type ${t}`);
  for (const t of [0, 1, 9, 22, 31]) assert.equal(decide(VideoKind.Hevc, bytes(SC, nal(t))), false, `type ${t}`);
  // VPS, SPS, PPS, SEI and no slice within the budget: decided by the parameter sets.
  assert.equal(decide(VideoKind.Hevc, bytes(SC, nal(32), SC, nal(33), SC, nal(34), SC, nal(39))), true);
  assert.equal(decide(VideoKind.Hevc, bytes(SC, nal(35), SC, nal(39))), false);
});

test('MPEG-2: a sequence header is key; otherwise the picture coding type decides (I only)', () => {
  assert.equal(decide(VideoKind.Mpeg2, bytes(SC, [0xb3, 0x14, 0x00])), true);
  const picture = (type: number) => [0x00, 0x00, (type << 3) | 0x01];
  assert.equal(decide(VideoKind.Mpeg2, bytes(SC, [0xb8, 0, 0, 0], SC, picture(1))), true); // GOP header, I picture
  assert.equal(decide(VideoKind.Mpeg2, bytes(SC, picture(2))), false); // P
  assert.equal(decide(VideoKind.Mpeg2, bytes(SC, picture(3))), false); // B
  // Budget runs out before any picture: MPEG-2 has no "parameter sets seen" fallback.
  assert.equal(decide(VideoKind.Mpeg2, bytes(SC, [0xb5, 0x14])), false);
});

test('a start code or header split between two feeds is still seen, at every cut', () => {
  const cases: [VideoKind, Buffer, boolean][] = [
    [VideoKind.H264, Buffer.from(H264_KEY), true],
    [VideoKind.H264, Buffer.from(H264_DELTA), false],
    [VideoKind.Mpeg2, bytes([0xff], SC, [0x00, 0x40, 0x0f]), true],
    [VideoKind.Hevc, bytes(SC, [0x40, 0x01], SC, [0x26, 0x01]), true],
  ];
  for (const [kind, data, key] of cases) {
    for (let cut = 0; cut <= data.length; cut++) {
      const s = new RapScanner();
      s.begin(kind);
      let r = s.feed(data, 0, cut);
      if (r === RAP_UNDECIDED) r = s.feed(data, cut, data.length);
      assert.equal(r, key ? RAP_YES : RAP_NO, `kind ${kind}, cut at ${cut}`);
    }
  }
});

test('the PES header is skipped, also when it is split across packets', () => {
  // Without the skip, the PES start code 00 00 01 E0 would be read as a NAL header.
  const data = pes(H264_KEY);
  const headerLen = data.length - H264_KEY.length;
  assert.equal(decide(VideoKind.H264, data, headerLen), true);
  for (let cut = 0; cut <= headerLen + 4; cut++) {
    const s = new RapScanner();
    s.begin(VideoKind.H264, headerLen);
    assert.equal(s.feed(data, 0, cut), RAP_UNDECIDED, `cut at ${cut}`);
    assert.equal(s.skip, Math.max(0, headerLen - cut));
    assert.equal(s.feed(data, cut, data.length), RAP_YES, `cut at ${cut}`);
  }
});

test('a header byte of 0 may open the next start code', () => {
  // 00 00 01 | 00 00 01 65: the first "NAL header" is the 00 that starts the next start code.
  assert.equal(decide(VideoKind.H264, bytes(SC, [0x00, 0x00, 0x01, 0x65])), true);
});

test('once decided the answer stands; finish() decides by parameter sets; begin() resets', () => {
  const s = new RapScanner();
  s.begin(VideoKind.H264);
  assert.equal(s.decided, false);
  assert.equal(s.feed(Buffer.from(H264_DELTA), 0, H264_DELTA.length), RAP_NO);
  assert.equal(s.decided, true);
  assert.equal(s.feed(Buffer.from(H264_KEY), 0, H264_KEY.length), RAP_NO, 'later data does not change it');
  assert.equal(s.finish(), false);
  // A big SEI pushed the slice past the budget: the SPS before it decides.
  s.begin(VideoKind.H264);
  assert.equal(s.feed(bytes(SC, [0x67, 0x42], SC, [0x06, 0x05, 0xff, 0xff]), 0, 11), RAP_UNDECIDED);
  assert.equal(s.finish(), true);
  assert.equal(s.decided, true);
  s.begin(VideoKind.H264);
  assert.equal(s.feed(bytes(SC, [0x06, 0x05]), 0, 5), RAP_UNDECIDED);
  assert.equal(s.finish(), false, 'no parameter sets: not key');
  // A stream that cannot carry keyframes is decided "no" at once.
  s.begin(VideoKind.None);
  assert.equal(s.decided, true);
  assert.equal(s.feed(Buffer.from(H264_KEY), 0, H264_KEY.length), RAP_NO);
});

/** Key/not-key for each video PES of a recorded clip, the scanner fed packet by packet as the hub feeds it. */
function keyframesOf(name: string, kind: VideoKind): boolean[] {
  const ts = readFileSync(new URL(`../../fixtures/mpegts/${name}`, import.meta.url));
  const out: boolean[] = [];
  const s = new RapScanner();
  let videoPid = -1;
  let open = false;
  for (let o = 0; o + PKT <= ts.length; o += PKT) {
    const p = payloadOffset(ts, o);
    if (p < 0 || p >= o + PKT) continue;
    const start = pusi(ts, o);
    if (videoPid < 0 && start && ts[p] === 0 && ts[p + 1] === 0 && ts[p + 2] === 1 && ts[p + 3] === 0xe0) videoPid = pid(ts, o);
    if (pid(ts, o) !== videoPid) continue;
    if (start) {
      if (open) out.push(s.finish());
      s.begin(kind, 9 + ts[p + 8]!); // the PES header: 9 bytes and its header_data_length
      open = true;
    }
    if (open && s.feed(ts, p, o + PKT) !== RAP_UNDECIDED) { out.push(s.finish()); open = false; }
  }
  if (open) out.push(s.finish());
  return out;
}

test('recorded clips (fixed 1 s GOP at 25 fps): exactly one keyframe every 25 pictures', async (t) => {
  const clips: [string, VideoKind, number][] = [['h264_aac.mpegts', VideoKind.H264, 100], ['hevc_aac.mpegts', VideoKind.Hevc, 100], ['mpeg2_mp2.mpegts', VideoKind.Mpeg2, 75]];
  for (const [name, kind, pictures] of clips) {
    await t.test(name, (tt) => {
      if (!existsSync(new URL(`../../fixtures/mpegts/${name}`, import.meta.url))) { tt.skip(`${name} missing: run test/fixtures/mpegts/make.sh`); return; }
      const keys = keyframesOf(name, kind);
      assert.equal(keys.length, pictures);
      const at = keys.flatMap((k, i) => (k ? [i] : []));
      assert.equal(at.length, pictures / 25, `keyframes at ${at.join(', ')}`);
      assert.equal(at[0], 0, 'the clip starts with a keyframe');
      // In decode order a keyframe moves ahead of the B-pictures shown before it (up to 4 with x265).
      for (let i = 1; i < at.length; i++) assert.ok(Math.abs(at[i]! - at[i - 1]! - 25) <= 4, `keyframes at ${at.join(', ')}`);
    });
  }
});
