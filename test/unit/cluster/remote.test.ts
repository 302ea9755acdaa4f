// The worker's side of a stream: frames from the primary's data pipe drive its hub;
// availability, on-demand starts, viewers and admission go through the primary's RPC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { EndReason, StreamHub } from '../../../src/hub/hub.js';
import { WorkerPipes } from '../../../src/cluster/fanout.js';
import { FrameReader } from '../../../src/cluster/protocol.js';
import { RemoteAdmission, RemoteStream } from '../../../src/cluster/remote.js';
import type { WorkerRpc } from '../../../src/cluster/rpc.js';

/** A hub that records what the frames made it do. */
function recordingHub(): { hub: StreamHub; calls: string[] } {
  const calls: string[] = [];
  const hub = {
    push: (_b: Buffer, _o: number, count: number) => { calls.push(`push ${count}`); },
    upstreamLost: () => { calls.push('lost'); },
    upstreamResumed: () => { calls.push('resumed'); },
    endAll: (reason: EndReason) => { calls.push(`end ${reason}`); },
  } as unknown as StreamHub;
  return { hub, calls };
}

/** The primary's pipes to one worker, through a real stream, read back into `streams` by slot. */
function pipeTo(streams: RemoteStream[]): { pipes: WorkerPipes; delivered: () => Promise<void> } {
  const pipes = new WorkerPipes(streams.length);
  const pipe = new PassThrough();
  const reader = new FrameReader((type, arg, slot, payload) => streams[slot]?.onFrame(type, arg, payload));
  pipe.on('data', (chunk: Buffer) => reader.push(chunk));
  pipes.add({ id: 1, pipe, viewers: streams.map(() => 0), onStuck: () => assert.fail('not stuck') });
  // A PassThrough delivers on a later tick: wait for what was written so far.
  const delivered = () => new Promise<void>((resolve) => { pipe.write(Buffer.alloc(0), () => setImmediate(resolve)); });
  return { pipes, delivered };
}

const rpcStub = (over: Partial<WorkerRpc> = {}): WorkerRpc => ({
  demand: () => Promise.resolve(true), viewer: () => {}, acquire: () => Promise.resolve(true), release: () => {}, ...over,
} as unknown as WorkerRpc);

test('RemoteStream: every end reason crosses the pipe as itself (kicked included)', async () => {
  const reasons: EndReason[] = ['upstream_lost', 'offline', 'shutdown', 'closed', 'too_slow', 'kicked'];
  const { hub, calls } = recordingHub();
  const { pipes, delivered } = pipeTo([new RemoteStream(0, '/a', hub, false, rpcStub())]);
  for (const r of reasons) pipes.end(0, r);
  await delivered();
  assert.deepEqual(calls, reasons.map((r) => `end ${r}`));
});
