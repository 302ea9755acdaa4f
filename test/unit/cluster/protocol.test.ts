// The primary -> worker pipe framing: [u8 type][u8 arg][u16 stream][u32 length][payload].
// A frame may be split anywhere by the pipe; the reader must give back exactly the frames sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { END_REASONS, FRAME_HEADER, Frame, FrameReader, frameHeader } from '../../../src/cluster/protocol.js';

interface Got { type: number; arg: number; stream: number; payload: Buffer }
/** A frame as sent: its type is one of the protocol's. */
interface Sent extends Got { type: Frame }

function frame(type: Frame, arg: number, stream: number, payload: Buffer): Buffer {
  return Buffer.concat([frameHeader(type, arg, stream, payload.length), payload]);
}

/** A reader that copies every frame it is given (a payload may be a view of the reader's input). */
function collect(): { reader: FrameReader; got: Got[] } {
  const got: Got[] = [];
  const reader = new FrameReader((type, arg, stream, payload) => got.push({ type, arg, stream, payload: Buffer.from(payload) }));
  return { reader, got };
}

const payload = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

const FRAMES: Sent[] = [
  { type: Frame.Data, arg: 0, stream: 0, payload: payload(188 * 3, 1) },
  { type: Frame.State, arg: 3, stream: 65535, payload: Buffer.alloc(0) },
  { type: Frame.Lost, arg: 0, stream: 7, payload: Buffer.alloc(0) },
  { type: Frame.Data, arg: 0, stream: 258, payload: payload(1, 2) },
  { type: Frame.End, arg: END_REASONS.indexOf('shutdown'), stream: 1, payload: Buffer.alloc(0) },
  { type: Frame.Resumed, arg: 0, stream: 2, payload: payload(FRAME_HEADER, 3) },
  { type: Frame.Data, arg: 255, stream: 3, payload: payload(188, 4) },
];
const WIRE = Buffer.concat(FRAMES.map((f) => frame(f.type, f.arg, f.stream, f.payload)));

test('frameHeader: type, arg, big-endian stream index and payload length in 8 bytes', () => {
  const h = frameHeader(Frame.End, 4, 0x1234, 0x01020304);
  assert.equal(h.length, FRAME_HEADER);
  assert.deepEqual([...h], [Frame.End, 4, 0x12, 0x34, 0x01, 0x02, 0x03, 0x04]);
});

test('FrameReader: the whole wire in one read gives every frame, in order', () => {
  const { reader, got } = collect();
  reader.push(WIRE);
  assert.deepEqual(got, FRAMES);
});

test('FrameReader: the wire split at every offset gives the same frames', () => {
  for (let k = 0; k <= WIRE.length; k++) {
    const { reader, got } = collect();
    reader.push(WIRE.subarray(0, k));
    reader.push(WIRE.subarray(k));
    assert.deepEqual(got, FRAMES, `split at ${k}`);
  }
});

test('FrameReader: split at every pair of offsets (three reads), and one byte at a time', () => {
  const step = 3; // every third offset for the pairs keeps this quick; single splits cover all
  for (let i = 0; i <= WIRE.length; i += step) {
    for (let j = i; j <= WIRE.length; j += step) {
      const { reader, got } = collect();
      reader.push(WIRE.subarray(0, i));
      reader.push(WIRE.subarray(i, j));
      reader.push(WIRE.subarray(j));
      assert.deepEqual(got, FRAMES, `split at ${i}, ${j}`);
    }
  }
  const { reader, got } = collect();
  for (let i = 0; i < WIRE.length; i++) reader.push(WIRE.subarray(i, i + 1));
  assert.deepEqual(got, FRAMES);
});

test('FrameReader: a frame is delivered only once complete; nothing of the next one leaks', () => {
  const { reader, got } = collect();
  const first = frame(Frame.Data, 0, 5, payload(100, 9));
  reader.push(first.subarray(0, first.length - 1));
  assert.equal(got.length, 0);
  reader.push(Buffer.concat([first.subarray(first.length - 1), frameHeader(Frame.Data, 0, 6, 50).subarray(0, 5)]));
  assert.equal(got.length, 1);
  assert.equal(got[0]!.stream, 5);
  assert.deepEqual(got[0]!.payload, payload(100, 9));
});

test('FrameReader property: any frames, any chunking, the frames come back exactly', () => {
  const frameArb = fc.record({
    type: fc.constantFrom(Frame.Data, Frame.Lost, Frame.Resumed, Frame.End, Frame.State),
    arg: fc.integer({ min: 0, max: 255 }),
    stream: fc.integer({ min: 0, max: 65535 }),
    payload: fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
  });
  fc.assert(fc.property(fc.array(frameArb, { maxLength: 12 }), fc.array(fc.integer({ min: 0, max: 8000 }), { maxLength: 20 }), (frames, cuts) => {
    const wire = Buffer.concat(frames.map((f) => frame(f.type, f.arg, f.stream, f.payload)));
    const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
    const { reader, got } = collect();
    let at = 0;
    for (const p of [...points, wire.length]) { reader.push(wire.subarray(at, p)); at = p; }
    assert.deepEqual(got, frames.map((f) => ({ ...f })));
  }), { numRuns: 300 });
});
