import { test } from 'node:test';
import assert from 'node:assert/strict';
import { audioFrameTicks, countAdts, isAdts, type AdtsWalk } from '../../../src/ts/audioframes.js';

/** One ADTS frame of `len` bytes (header included) at sampling index `sf`, with `blocks` raw data blocks. */
function adts(sf: number, len: number, blocks = 1): Buffer {
  const f = Buffer.alloc(len, 0x11);
  f[0] = 0xff;
  f[1] = 0xf1; // MPEG-4, layer 0, no CRC
  f[2] = (1 << 6) | (sf << 2); // AAC LC
  f[3] = 0x80 | ((len >> 11) & 0x03); // 2 channels
  f[4] = (len >> 3) & 0xff;
  f[5] = ((len & 0x07) << 5) | 0x1f;
  f[6] = 0xfc | ((blocks - 1) & 0x03);
  return f;
}

/** An MPEG audio header: version (3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5), layer (3 = I, 2 = II, 1 = III), rate index. */
function mpa(version: number, layer: number, sri: number): Buffer {
  return Buffer.from([0xff, 0xe0 | (version << 3) | (layer << 1) | 1, 0x90 | (sri << 2), 0x44]);
}

/** An AC-3 sync frame header with sample rate code `fscod`. */
function ac3(fscod: number): Buffer {
  return Buffer.from([0x0b, 0x77, 0x12, 0x34, (fscod << 6) | 0x14, 0x40]);
}

const ticks = (buf: Buffer, p = 0) => audioFrameTicks(buf, p);

test('ADTS: 1024 samples a frame at the header\'s sampling rate; reserved rates give 0', () => {
  assert.equal(ticks(adts(3, 32)), 1920); // 48 kHz
  assert.equal(ticks(adts(4, 32)), (1024 * 90000) / 44100);
  assert.equal(ticks(adts(11, 32)), (1024 * 90000) / 8000);
  assert.equal(ticks(adts(13, 32)), 0);
  assert.equal(ticks(adts(15, 32)), 0);
  // The header is read where it is, not only at 0.
  assert.equal(ticks(Buffer.concat([Buffer.from([1, 2, 3]), adts(3, 32)]), 3), 1920);
});

test('MPEG audio layers I-III, versions 1, 2 and 2.5: samples per frame over the sampling rate', () => {
  assert.equal(ticks(mpa(3, 2, 1)), (1152 * 90000) / 48000); // MPEG-1 Layer II
  assert.equal(ticks(mpa(3, 1, 0)), (1152 * 90000) / 44100); // MPEG-1 Layer III
  assert.equal(ticks(mpa(3, 3, 2)), (384 * 90000) / 32000); // MPEG-1 Layer I
  assert.equal(ticks(mpa(2, 1, 1)), (576 * 90000) / 24000); // MPEG-2 Layer III: half the rate, half the samples
  assert.equal(ticks(mpa(2, 2, 2)), (1152 * 90000) / 16000); // MPEG-2 Layer II
  assert.equal(ticks(mpa(0, 1, 2)), (576 * 90000) / 8000); // MPEG-2.5 Layer III
  // Reserved version, reserved layer, reserved rate.
  assert.equal(ticks(mpa(1, 2, 1)), 0);
  assert.equal(ticks(mpa(0, 0, 1)), 0);
  assert.equal(ticks(mpa(3, 2, 3)), 0);
});

test('AC-3: 1536 samples at 48, 44.1 or 32 kHz; the reserved rate code gives 0', () => {
  assert.equal(ticks(ac3(0)), 2880);
  assert.equal(ticks(ac3(1)), (1536 * 90000) / 44100);
  assert.equal(ticks(ac3(2)), (1536 * 90000) / 32000);
  assert.equal(ticks(ac3(3)), 0);
});

test('anything else is not an audio frame', () => {
  assert.equal(ticks(Buffer.from([0x47, 0x40, 0x00, 0x10, 0, 0])), 0);
  assert.equal(ticks(Buffer.from([0, 0, 1, 0xc0, 0, 0])), 0);
  assert.equal(isAdts(adts(3, 32), 0), true);
  assert.equal(isAdts(mpa(3, 2, 1), 0), false);
  assert.equal(isAdts(ac3(0), 0), false);
});

function walk(): AdtsWalk {
  return { frames: 0, skip: 0, hlen: 0, hdr: new Uint8Array(7) };
}

test('countAdts counts frames and their raw data blocks through a PES cut anywhere', () => {
  const pes = Buffer.concat([adts(3, 100), adts(3, 150, 2), adts(3, 7), adts(3, 300, 4)]);
  const whole = walk();
  countAdts(whole, pes, 0, pes.length);
  assert.equal(whole.frames, 1 + 2 + 1 + 4);
  // Cut in two at every offset (a header split between two TS packets included).
  for (let cut = 0; cut <= pes.length; cut++) {
    const w = walk();
    countAdts(w, pes, 0, cut);
    countAdts(w, pes, cut, pes.length);
    assert.equal(w.frames, 8, `cut at ${cut}`);
    assert.equal(w.skip, 0);
    assert.equal(w.hlen, 0);
  }
  // In three-byte steps: the walk's state carries every piece over.
  const w = walk();
  for (let p = 0; p < pes.length; p += 3) countAdts(w, pes, p, Math.min(pes.length, p + 3));
  assert.equal(w.frames, 8);
});

test('countAdts: a header missing where the previous frame\'s length pointed marks the walk lost (-1)', () => {
  const w = walk();
  const bad = Buffer.concat([adts(3, 50), Buffer.alloc(20, 0x55)]);
  countAdts(w, bad, 0, bad.length);
  assert.equal(w.frames, -1);
  // A frame length shorter than its own header cannot be walked either.
  const short = adts(3, 32);
  short[4] = 0; short[5] = 0x1f; short[3] = 0x80; // length 0
  const w2 = walk();
  countAdts(w2, short, 0, 7);
  assert.equal(w2.frames, -1);
});
