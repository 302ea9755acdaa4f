import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Writable } from 'node:stream';
import { WorkerPipes, type WorkerPipe } from '../../../src/cluster/fanout.js';
import { Frame, FrameReader } from '../../../src/cluster/protocol.js';

const PKT = 188;

/** A worker whose pipe keeps every buffer it is given, as a real pipe may until it has written it. */
function fakeWorker(id: number): WorkerPipe & { written: Buffer[] } {
  const written: Buffer[] = [];
  const pipe = { writable: true, writableLength: 0, write: (b: Buffer) => { written.push(b); return true; } } as unknown as Writable;
  return { id, pipe, viewers: [0, 0], onStuck: () => assert.fail('not stuck'), written };
}

/** Packets numbered `from`.. in their first payload bytes, so any overwrite or loss shows. */
function packets(from: number, count: number): Buffer {
  const b = Buffer.alloc(count * PKT);
  for (let i = 0; i < count; i++) { b[i * PKT] = 0x47; b.writeUInt32BE(from + i, i * PKT + 4); }
  return b;
}

test('fanout: every packet reaches every worker once, in order, across batches and slabs; a frame already handed to a pipe is never overwritten', () => {
  const pipes = new WorkerPipes(2);
  const a = fakeWorker(1);
  const b = fakeWorker(2);
  pipes.add(a);
  pipes.add(b);
  // Uneven pushes (1 to 400 packets) on two streams, with events between: many full
  // frames and partial ones, far more than one slab holds.
  const sent: Buffer[][] = [[], []];
  let n = 0;
  for (let i = 0; i < 300; i++) {
    const stream = i % 3 === 0 ? 1 : 0;
    const count = 1 + ((i * 37) % 400);
    // The aligner's buffer is only valid during the call: reuse (scribble over) it after.
    const chunk = packets(n, count);
    sent[stream]!.push(Buffer.from(chunk));
    pipes.data(stream, chunk, 0, count);
    chunk.fill(0xee);
    n += count;
    if (i % 50 === 49) pipes.lost(stream);
  }
  pipes.end(0, 'shutdown');
  pipes.end(1, 'shutdown');
  pipes.close();
  for (const w of [a, b]) {
    const got: Buffer[][] = [[], []];
    let events = 0;
    const reader = new FrameReader((type, _arg, stream, payload) => {
      if (type === Frame.Data) got[stream]!.push(Buffer.from(payload));
      else events++;
    });
    // Read only now: every frame the pipe was given must still hold what it held then.
    for (const buf of w.written) reader.push(buf);
    assert.equal(events, 6 + 2);
    for (const s of [0, 1]) assert.ok(Buffer.concat(got[s]!).equals(Buffer.concat(sent[s]!)), `worker ${w.id}, stream ${s}: identical data`);
  }
  // The two workers were given the very same frames (one copy for all).
  assert.equal(a.written.length, b.written.length);
  a.written.forEach((f, i) => assert.equal(f, b.written[i]));
});
