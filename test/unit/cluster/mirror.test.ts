import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { StreamHub } from '../../../src/hub/hub.js';
import { WorkerPipes } from '../../../src/cluster/fanout.js';
import { MirrorOutput } from '../../../src/cluster/mirror.js';
import { Frame, FrameReader } from '../../../src/cluster/protocol.js';

const PKT = 188;

/** The H.264/AAC fixture (1 s GOP), wherever the fixtures folder keeps it. */
function fixture(): Buffer {
  const find = (dir: string): string | undefined => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) { const f = find(p); if (f) return f; } else if (e.name.startsWith('h264_aac.')) return p;
    }
    return undefined;
  };
  const path = find(join(import.meta.dirname, '..', '..', 'fixtures'));
  assert.ok(path, 'the h264_aac fixture');
  return readFileSync(path);
}

test('MirrorOutput: analyses a stream as a hub does (no ring), across upstream sessions, and sends every packet and event to the workers', () => {
  const ts = fixture();
  const packets = Math.floor(ts.length / PKT);
  const written: Buffer[] = [];
  const pipe = { writable: true, writableLength: 0, write: (b: Buffer) => { written.push(b); return true; } } as unknown as Writable;
  const pipes = new WorkerPipes(1);
  pipes.add({ id: 1, pipe, viewers: [0], onStuck: () => assert.fail('not stuck') });
  const out = new MirrorOutput(pipes, 0);
  const hub = new StreamHub({ outputBufferPackets: 1000, batchMs: 0 });
  const same = (when: string) => {
    assert.equal(out.packetsIn, hub.packetsIn, `${when}: packets in`);
    assert.equal(out.analyzer.rapCount, hub.analyzer.rapCount, `${when}: keyframes`);
    assert.equal(out.analyzer.lastRapIndex, hub.analyzer.lastRapIndex, `${when}: last keyframe`);
    assert.equal(out.analyzer.gopPackets, hub.analyzer.gopPackets, `${when}: GOP`);
    assert.deepEqual(out.analyzer.patPackets, hub.analyzer.patPackets, `${when}: PAT`);
  };
  const feed = (from: number, to: number) => {
    for (let p = from; p < to; p += 7) {
      const n = Math.min(7, to - p);
      out.push(ts, p * PKT, n);
      hub.push(ts, p * PKT, n);
    }
  };
  const third = Math.floor(packets / 3);
  try {
    feed(0, third);
    assert.ok(out.analyzer.rapCount > 0 && out.analyzer.patPackets, 'the first session was analysed');
    same('first session');
    out.upstreamLost(); hub.upstreamLost();
    same('upstream lost');
    out.upstreamResumed(); hub.upstreamResumed();
    feed(third, 2 * third);
    same('second session');
    out.endAll('upstream_lost'); hub.endAll('upstream_lost');
    same('ended');
    feed(2 * third, packets);
    same('third session');
  } finally {
    hub.close();
    out.close();
    pipes.close();
  }
  pipes.end(0, 'shutdown');
  // The worker got every packet, in order, and the four events.
  const data: Buffer[] = [];
  const events: Frame[] = [];
  const reader = new FrameReader((type, _arg, _stream, payload) => { if (type === Frame.Data) data.push(Buffer.from(payload)); else events.push(type); });
  for (const b of written) reader.push(b);
  assert.ok(Buffer.concat(data).equals(ts.subarray(0, packets * PKT)), 'identical data');
  assert.deepEqual(events, [Frame.Lost, Frame.Resumed, Frame.End, Frame.End]);
});
