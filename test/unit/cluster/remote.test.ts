// The worker's side of a stream: frames from the primary's data pipe drive its hub;
// availability, on-demand starts, viewers and admission go through the primary's RPC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { EndReason, StreamHub } from '../../../src/hub/hub.js';
import { WorkerPipes } from '../../../src/cluster/fanout.js';
import { Frame, FrameReader } from '../../../src/cluster/protocol.js';
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

test('RemoteStream: data, lost and resumed frames drive its hub; availability comes from state frames', async () => {
  const { hub, calls } = recordingHub();
  const s = new RemoteStream(0, '/a', hub, false, rpcStub());
  const { pipes, delivered } = pipeTo([s]);
  assert.equal(s.available, false, 'unknown until the primary says');
  pipes.state(0, true, false);
  pipes.data(0, Buffer.alloc(188 * 3, 0x47), 0, 3);
  pipes.lost(0);
  pipes.resumed(0);
  await delivered();
  assert.equal(s.available, true);
  assert.deepEqual(calls, ['push 3', 'lost', 'resumed']);
  pipes.state(0, true, true); // taken offline (control API)
  await delivered();
  assert.equal(s.available, false);
  pipes.close();
});

test('RemoteStream: demand waits for the state frame that may trail the primary\'s reply; a refusal is false at once', async () => {
  const { hub } = recordingHub();
  let answer = true;
  const asked: number[] = [];
  const s = new RemoteStream(4, '/a', hub, true, rpcStub({ demand: (slot: number) => { asked.push(slot); return Promise.resolve(answer); } }));
  const { pipes, delivered } = pipeTo([]);
  let result: boolean | undefined;
  const pending = s.demand().then((ok) => { result = ok; });
  await new Promise((r) => setImmediate(r));
  assert.equal(result, undefined, 'the reply came first: waiting for the stream to be up');
  s.onFrame(Frame.State, 1, Buffer.alloc(0));
  await pending;
  assert.equal(result, true);
  assert.deepEqual(asked, [4]);
  answer = false;
  assert.equal(await s.demand(), false);
  await delivered();
  pipes.close();
});

test('RemoteStream and RemoteAdmission: viewers and admission are the primary\'s', async () => {
  const said: string[] = [];
  const rpc = rpcStub({
    viewer: (slot: number, delta: 1 | -1) => { said.push(`viewer ${slot} ${delta}`); },
    acquire: () => { said.push('acquire'); return Promise.resolve(false); },
    release: () => { said.push('release'); },
  });
  const s = new RemoteStream(2, '/a', recordingHub().hub, false, rpc);
  s.viewerJoined();
  s.viewerLeft();
  const gate = new RemoteAdmission(rpc);
  assert.equal(await gate.acquire(), false);
  gate.release();
  assert.deepEqual(said, ['viewer 2 1', 'viewer 2 -1', 'acquire', 'release']);
});
