// The playlist window: hlswindow segments listed, a target fixed once, the discontinuity
// sequence, and a segment that left the window fetchable for its duration plus the
// playlist's (RFC 8216 6.2.2), then gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HlsWindow, type HlsSegment } from '../../../src/hub/hls-window.js';

const seg = (seq: number, durationMs = 2000, discontinuity = false): HlsSegment => ({
  seq, name: `ep-${seq}.ts`, data: Buffer.alloc(188), etag: `"ep-${seq}"`, durationMs, startedAt: Date.UTC(2026, 0, 1) + seq * 2000, discontinuity,
});

test('lists the newest segments, with the first one\'s sequence number; the target is fixed once', () => {
  const w = new HlsWindow(3, 'news.m3u8/', 'ep');
  assert.equal(w.playlist(), undefined);
  w.fixTarget(2);
  w.fixTarget(5);
  assert.equal(w.targetS, 2);
  for (let i = 0; i < 5; i++) w.add(seg(i), 1000 + i * 2000);
  assert.equal(w.length, 3);
  const pl = w.playlist()!;
  assert.equal(pl.body.toString(), [
    '#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:2', '#EXT-X-DISCONTINUITY-SEQUENCE:0',
    '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:04.000Z', '#EXTINF:2.000,', 'news.m3u8/ep-2.ts',
    '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:06.000Z', '#EXTINF:2.000,', 'news.m3u8/ep-3.ts',
    '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:08.000Z', '#EXTINF:2.000,', 'news.m3u8/ep-4.ts', '',
  ].join('\n'));
  assert.equal(pl.etag, '"ep-p4"');
  assert.strictEqual(w.playlist(), pl, 'rendered once per new segment, not per request');
});

test('a segment that left the window stays fetchable for its duration plus the playlist\'s, then 404', () => {
  const w = new HlsWindow(2, 'p/', 'ep');
  w.add(seg(0), 0);
  w.add(seg(1), 2000);
  w.add(seg(2), 4000); // seg 0 leaves: fetchable until 4000 + 2000 + 4000 (segments 1 and 2)
  assert.ok(w.segment('ep-0.ts', 9999));
  assert.equal(w.segment('ep-0.ts', 10_000), undefined);
  assert.equal(w.segment('ep-9.ts', 0), undefined);
  assert.equal(w.segment('ep-2.ts', 1e9)?.seq, 2, 'a listed segment is always there');
});

test('a discontinuity is tagged while listed and counted once it has slid out', () => {
  const w = new HlsWindow(2, 'p/', 'ep');
  w.add(seg(0), 0);
  w.add(seg(1, 1500, true), 1);
  assert.match(w.playlist()!.body.toString(), /#EXT-X-DISCONTINUITY-SEQUENCE:0\n[^]*#EXTINF:2.000,\np\/ep-0.ts\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n#EXTINF:1.500,\np\/ep-1.ts\n$/);
  w.add(seg(2), 2);
  w.add(seg(3), 3);
  assert.match(w.playlist()!.body.toString(), /#EXT-X-DISCONTINUITY-SEQUENCE:1\n/);
  assert.doesNotMatch(w.playlist()!.body.toString(), /#EXT-X-DISCONTINUITY\n/);
});
