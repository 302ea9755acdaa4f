// The segmenter as the hub feeds it (fake time, synthetic 25 fps H.264 + audio): cuts at
// keyframes once hlssegment has passed, fixes the target from the first segment, cuts at
// the target when keyframes stop, starts each segment with PAT, PMT and (where it can) a
// keyframe, runs continuity counters on across segments, and marks upstream switches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamHub } from '../../../src/hub/hub.js';
import type { HlsSegment } from '../../../src/hub/hls-window.js';
import { H264_DELTA, H264_KEY, Mux, PKT, ccErrors, patSection, pes, pmtSection } from '../../helpers/packets.js';
import { FakeClock } from '../../helpers/clock.js';

const VIDEO = 0x100, AUDIO = 0x101, PMT = 0x1000;
const FRAME_MS = 40;

/** A synthetic live source: frame by frame, PAT and PMT before each keyframe. */
class Source {
  readonly mux = new Mux();
  private sent = 0;
  frame = 0;
  constructor(private gop: number, private readonly video = true) {}
  setGop(n: number): void { this.gop = n; }
  /** The packets of the next frame. */
  next(): Buffer {
    const key = this.frame % this.gop === 0;
    if (key || !this.video) {
      this.mux.psi(0, patSection(0, [[1, PMT]]));
      this.mux.psi(PMT, pmtSection(1, 0, this.video ? VIDEO : AUDIO, [
        ...(this.video ? [{ type: 0x1b, pid: VIDEO }] : []), { type: 0x0f, pid: AUDIO }]));
    }
    if (this.video) this.mux.pes(VIDEO, pes(key ? H264_KEY : H264_DELTA), { rai: key, pcr: this.frame * FRAME_MS * 27_000 });
    this.mux.pes(AUDIO, Buffer.from([0, 0, 1, 0xc0, 0, 0, 0x80, 0, 0, 1, 2, 3]));
    this.frame++;
    const out = Buffer.concat(this.mux.packets.slice(this.sent));
    this.sent = this.mux.packets.length;
    return out;
  }
}

function setup(gop: number, o: { segmentS?: number; window?: number; video?: boolean; burst?: number } = {}) {
  const clock = new FakeClock();
  const hub = new StreamHub({ outputBufferPackets: 400, batchMs: 0, clock, hls: { segmentS: o.segmentS ?? 2, window: o.window ?? 6, playlistName: 'news.m3u8' } });
  const src = new Source(gop, o.video);
  // `burst`: frames arrive that many at once (the clock moves once per burst), as from a bursty upstream.
  const burst = o.burst ?? 1;
  const run = (frames: number) => {
    for (let i = 0; i < frames; i++) {
      if (src.frame % burst === 0) clock.tick(FRAME_MS * burst);
      const b = src.next();
      hub.push(b, 0, b.length / PKT);
    }
  };
  const hls = hub.hls!;
  /** The listed segments, from the playlist. */
  const listed = (): HlsSegment[] => {
    const text = hls.playlist()?.body.toString() ?? '';
    return text.split('\n').filter((l) => l.endsWith('.ts')).map((l) => hls.segment(l.slice('news.m3u8/'.length))!);
  };
  return { clock, hub, src, run, hls, listed };
}

const pidAt = (b: Buffer, i: number) => ((b[i * PKT + 1]! & 0x1f) << 8) | b[i * PKT + 2]!;
const isKeyframe = (b: Buffer, i: number) => pidAt(b, i) === VIDEO && (b[i * PKT + 3]! & 0x20) !== 0 && (b[i * PKT + 5]! & 0x40) !== 0;

test('1 s GOP, hlssegment 2: 2 s segments, each PAT, PMT, keyframe; counters run on across segments', () => {
  const { run, hls, listed } = setup(25);
  assert.equal(hls.playlist(), undefined, 'no playlist before the first segment');
  run(10);
  run(25 * 9);
  const segs = listed();
  assert.equal(hls.targetS, 2);
  assert.ok(segs.length >= 3, `segments: ${segs.length}`);
  for (const s of segs) {
    assert.equal(s.durationMs, 2000);
    assert.equal(pidAt(s.data, 0), 0, 'PAT first');
    assert.equal(pidAt(s.data, 1), PMT, 'then the PMT');
    assert.ok(isKeyframe(s.data, 2), 'then the keyframe');
    assert.equal(s.name, `${hls.epoch}-${s.seq}.ts`);
  }
  assert.deepEqual(segs.map((s) => s.seq), segs.map((_, i) => segs[0]!.seq + i));
  assert.equal(ccErrors(Buffer.concat(segs.map((s) => s.data))), 0);
});

test('a GOP longer than hlssegment sets the target; the playlist has the window and the tags', () => {
  const { run, hls, listed } = setup(75, { window: 3 }); // 3 s GOP
  run(75 * 8);
  assert.equal(hls.targetS, 3);
  const segs = listed();
  assert.equal(segs.length, 3);
  for (const s of segs) assert.equal(s.durationMs, 3000);
  const text = hls.playlist()!.body.toString();
  assert.match(text, /^#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:3\n#EXT-X-MEDIA-SEQUENCE:\d+\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n/);
  assert.match(text, /#EXT-X-PROGRAM-DATE-TIME:\d{4}-\d\d-\d\dT[\d:.]+Z\n#EXTINF:3\.000,\nnews\.m3u8\//);
});

test('keyframes that stop coming: the segment is cut at the target, its EXTINF still rounds to it', () => {
  const { run, src, listed, hls } = setup(25);
  run(25 * 5);
  src.setGop(1000);
  run(25 * 6);
  assert.equal(hls.targetS, 2);
  const long = listed().filter((s) => s.durationMs > 2000);
  assert.ok(long.length >= 2, 'cut at the target');
  assert.ok(long.some((s) => !isKeyframe(s.data, 2)), 'a segment after such a cut starts where it can: without a keyframe');
  for (const s of long) {
    assert.ok(Math.round(s.durationMs / 1000) <= 2, `${s.durationMs} ms rounds to the target`);
    assert.equal(pidAt(s.data, 0), 0, 'PAT first all the same');
  }
  assert.equal(ccErrors(Buffer.concat(listed().map((s) => s.data))), 0);
});

test('no second keyframe before the first segment: it is cut at 10 s, which fixes the target', () => {
  const { run, listed, hls } = setup(10_000);
  run(25 * 9);
  assert.equal(hls.playlist(), undefined);
  run(25 * 2);
  assert.equal(hls.targetS, 10);
  assert.equal(listed().length, 1);
  assert.equal(listed()[0]!.durationMs, 10_000);
});

test('an upstream switch: the segment in progress ends, the next starts at the new keyframe with a discontinuity', () => {
  const { run, hub, listed, hls } = setup(25, { window: 3 });
  run(25 * 4 + 1); // the second segment was just cut
  const before = listed().at(-1)!.seq;
  run(10); // part of a segment
  hub.upstreamLost();
  const cut = listed().at(-1)!;
  assert.equal(cut.seq, before + 1);
  assert.equal(cut.durationMs, 10 * FRAME_MS, 'what was gathered is listed at once');
  hub.upstreamResumed();
  run(13); // the new upstream: mid-GOP first, so its first segment waits for a keyframe
  run(25 * 3);
  const after = listed().find((s) => s.seq === cut.seq + 1)!;
  assert.equal(after.discontinuity, true);
  assert.ok(isKeyframe(after.data, after.data.indexOf(Buffer.from([0x47, 0x41, 0x00])) / PKT), 'a keyframe after the markers');
  assert.match(hls.playlist()!.body.toString(), /#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME/);
  run(25 * 8); // it slides out of the window of 3
  assert.match(hls.playlist()!.body.toString(), /#EXT-X-DISCONTINUITY-SEQUENCE:1\n/);
  assert.doesNotMatch(hls.playlist()!.body.toString(), /#EXT-X-DISCONTINUITY\n/);
});

test('without video: a segment every hlssegment', () => {
  const { run, listed, hls } = setup(25, { video: false });
  run(25 * 7);
  assert.equal(hls.targetS, 2);
  const segs = listed();
  assert.equal(segs.length, 3);
  for (const s of segs) assert.equal(s.durationMs, 2000);
});

test('durations are media time: from the PCR, not from bursty arrival', () => {
  const { run, listed, hls } = setup(25, { burst: 7 });
  run(25 * 9);
  assert.equal(hls.targetS, 2);
  const segs = listed();
  assert.ok(segs.length >= 3);
  for (const s of segs) assert.equal(s.durationMs, 2000, 'arrival time would give 1680 or 2240 ms');
  // PROGRAM-DATE-TIME stays the wall clock of arrival.
  assert.ok(segs.some((s, i) => i > 0 && s.startedAt - segs[i - 1]!.startedAt !== 2000));
});

test('without a PCR, durations are arrival time', () => {
  const { run, listed } = setup(25, { video: false, burst: 5 });
  run(25 * 7);
  for (const s of listed()) assert.equal(s.durationMs, 2000);
});

test('listeners are told once, when the next segment is listed', () => {
  const { run, hls } = setup(25);
  let told = 0, cancelled = 0;
  hls.onListed(() => { told++; });
  hls.onListed(() => { cancelled++; })();
  run(25 * 2);
  assert.equal(told, 0, 'the first segment is not listed yet');
  run(2);
  assert.equal(told, 1);
  run(25 * 4);
  assert.equal(told, 1, 'once');
  assert.equal(cancelled, 0);
});

test('a new segmenter has a new epoch; close() stops it', () => {
  const a = setup(25), b = setup(25);
  assert.notEqual(a.hls.epoch, b.hls.epoch);
  a.run(25 * 3);
  a.hub.close();
  a.run(25 * 3);
  assert.equal(a.listed().length, 1);
});
