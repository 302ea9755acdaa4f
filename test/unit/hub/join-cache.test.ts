import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CatchUpCache, PrefixCache } from '../../../src/hub/join-cache.js';
import { PacketRing } from '../../../src/hub/ring.js';
import { StreamAnalyzer } from '../../../src/ts/analyzer.js';
import { CcContinuer } from '../../../src/ts/continuity.js';
import { makeStream, seqs, PKT } from '../../helpers/packets.js';

const TS = readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'mpegts', 'h264_aac.mpegts')); // 1 s GOP

test('catch-up copies: the same range is one shared buffer, per framing; a different range is a new copy', () => {
  const ring = new PacketRing(200);
  ring.write(makeStream(100), 0, 100);
  const cache = new CatchUpCache(ring);
  const a = cache.chunk('raw', 10, 30, 0);
  assert.deepEqual(seqs(a), Array.from({ length: 20 }, (_, i) => 10 + i));
  assert.equal(cache.chunk('raw', 10, 30, 0), a, 'shared');
  assert.notEqual(cache.chunk('raw', 10, 31, 0), a, 'another end: another copy');
  const ch = cache.chunk('chunked', 10, 30, 0);
  const head = `${(20 * PKT).toString(16)}\r\n`;
  assert.equal(ch.subarray(0, head.length).toString('latin1'), head, 'framed as one HTTP chunk');
  assert.equal(ch.length, head.length + 20 * PKT + 2);
  assert.equal(cache.chunk('chunked', 10, 30, 0), ch);
});

test('catch-up copies: a full cache drops what left the ring or ends at or before the stale point first', () => {
  const ring = new PacketRing(100);
  const s = makeStream(200);
  ring.write(s, 0, 100);
  const cache = new CatchUpCache(ring);
  cache.chunk('raw', 0, 1, 0);
  for (let i = 1; i < 32; i++) cache.chunk('raw', 50 + i, 52 + i, 0);
  const kept = cache.chunk('raw', 51, 53, 0);
  ring.write(s, 0, 10); // packet 0 leaves the ring
  cache.chunk('raw', 99, 100, 0); // full: evicts what left the ring
  assert.equal(cache.chunk('raw', 51, 53, 0), kept, 'entries still in the ring stay');
  assert.throws(() => cache.chunk('raw', 0, 1, 0), RangeError, 'the old entry is gone (a new copy is tried, and the data is gone)');
});

test('prefix: none before PAT/PMT; the same buffer for clients at one keyframe; rebuilt after reset()', () => {
  const ring = new PacketRing(2000);
  const analyzer = new StreamAnalyzer();
  const cc = new CcContinuer();
  const prefixes = new PrefixCache(analyzer, ring, cc);
  assert.equal(prefixes.at(0, false), undefined, 'no PAT/PMT known');
  const n = 600;
  analyzer.scan(TS, 0, n, 0);
  ring.write(TS, 0, n);
  const rap = analyzer.lastRapIndex;
  const p = prefixes.at(rap, false);
  assert.ok(p);
  assert.equal(p.length, 2 * PKT, 'PAT and PMT');
  assert.equal(prefixes.at(rap, false), p, 'shared');
  assert.notEqual(prefixes.at(rap, true), p, 'a splice prefix (with markers) is another');
  const raw = prefixes.at(rap, false)!;
  assert.equal(prefixes.framed('raw', raw), raw, 'raw: as it is');
  const chunked = prefixes.framed('chunked', raw);
  assert.equal(prefixes.framed('chunked', raw), chunked, 'the chunked copy is made once');
  prefixes.reset();
  assert.notEqual(prefixes.at(rap, false), raw, 'rebuilt after the session ended');
});
