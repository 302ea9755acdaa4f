// The status page's Server-Sent Events (SnapshotBroadcaster) on fake time and fake
// responses: one snapshot built per tick whatever the number of subscribers, the same
// bytes to all, a timer only while someone listens, pokes at most every 250 ms, and a
// subscriber that does not read is skipped, then dropped. One test on a real socket: what
// Node holds for a subscriber that never reads.
import { afterEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import http, { type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SnapshotBroadcaster } from '../../../src/status/sse.js';
import { until } from '../../helpers/wait.js';

/** The part of a ServerResponse the broadcaster uses, recording what it is given. */
class FakeRes extends EventEmitter {
  status = 0;
  headers: Record<string, string> = {};
  readonly chunks: (string | Buffer)[] = [];
  /** write() returns false (the socket is full) while set. */
  full = false;
  ended = false;
  destroyed = false;
  writeHead(status: number, headers: Record<string, string>): this { this.status = status; this.headers = headers; return this; }
  write(chunk: string | Buffer): boolean { this.chunks.push(chunk); return !this.full; }
  end(): this { this.ended = true; return this; }
  destroy(): this { this.destroyed = true; this.emit('close'); return this; }
  /** The data frames received, as text. */
  get messages(): string[] { return this.chunks.slice(1).map(String); }
  get asRes(): ServerResponse { return this as unknown as ServerResponse; }
}

/** Lets the broadcaster's build (a promise) finish after a timer fired. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Moves fake time by `ms`, a second at most at a time, letting each build finish (as real time would). */
async function tick(ms: number): Promise<void> {
  for (let left = ms; ; left -= 1000) {
    mock.timers.tick(Math.min(left, 1000));
    await settle();
    if (left <= 1000) return;
  }
}

function counting(intervalMs = 1000): { b: SnapshotBroadcaster; errors: unknown[] } {
  let seq = 0;
  const errors: unknown[] = [];
  const b = new SnapshotBroadcaster({ build: () => Promise.resolve(String(++seq)), intervalMs, onError: (e) => errors.push(e) });
  return { b, errors };
}

afterEach(() => mock.timers.reset());

describe('SnapshotBroadcaster on fake time', () => {
  const fake = () => mock.timers.enable({ apis: ['setInterval', 'setTimeout', 'Date'], now: 100_000 });

  it('a subscriber gets the event-stream headers, the retry line and a message at once; then one per interval', async () => {
    fake();
    const { b } = counting();
    const a = new FakeRes();
    b.subscribe(a.asRes);
    assert.equal(a.status, 200);
    assert.equal(a.headers['Content-Type'], 'text/event-stream; charset=utf-8');
    assert.equal(a.headers['X-Accel-Buffering'], 'no');
    assert.equal(String(a.chunks[0]), 'retry: 2000\n\n');
    await tick(0);
    assert.deepEqual(a.messages, ['data: 1\n\n']);
    await tick(999);
    assert.equal(a.messages.length, 1);
    await tick(1);
    assert.deepEqual(a.messages, ['data: 1\n\n', 'data: 2\n\n']);
    assert.equal(b.builds, 2);
    b.close();
  });

  it('builds once per tick for every subscriber, and hands each the same bytes', async () => {
    fake();
    const { b } = counting();
    const subs = Array.from({ length: 50 }, () => new FakeRes());
    for (const s of subs) b.subscribe(s.asRes);
    assert.equal(b.subscribers, 50);
    await tick(0);
    // A later subscriber gets the last message at once while it is fresh, not a new build.
    const late = new FakeRes();
    b.subscribe(late.asRes);
    assert.equal(late.chunks[1], subs[0]!.chunks[1]);
    await tick(3000);
    assert.equal(b.builds, 4);
    for (const s of [...subs, late]) {
      assert.equal(s.chunks.length, subs[0]!.chunks.length);
      // The very same Buffer: one frame per tick, not one per subscriber.
      s.chunks.slice(-3).forEach((c, i) => assert.equal(c, subs[0]!.chunks.at(i - 3)));
    }
    b.close();
  });

  it('runs its timer only while someone listens', async () => {
    fake();
    const { b } = counting();
    const a = new FakeRes();
    b.subscribe(a.asRes);
    await tick(0);
    a.emit('close');
    assert.equal(b.subscribers, 0);
    await tick(10_000);
    assert.equal(b.builds, 1);
    // A new subscriber after the last message went stale: a fresh build, at once.
    const c = new FakeRes();
    b.subscribe(c.asRes);
    await tick(0);
    assert.equal(b.builds, 2);
    assert.deepEqual(c.messages, ['data: 2\n\n']);
    b.close();
  });

  it('answers pokes early, but never sooner than 250 ms after the last push', async () => {
    fake();
    const { b } = counting(60_000);
    const a = new FakeRes();
    b.subscribe(a.asRes);
    await tick(0);
    for (let i = 0; i < 50; i++) b.poke();
    await tick(249);
    assert.equal(b.builds, 1);
    await tick(1);
    assert.equal(b.builds, 2, 'fifty pokes, one message');
    await tick(5000);
    assert.equal(b.builds, 2);
    b.close();
  });

  it('skips a subscriber whose socket is full until it drains, and drops it after 30 s', async () => {
    fake();
    const { b } = counting();
    const slow = new FakeRes();
    const fast = new FakeRes();
    b.subscribe(slow.asRes);
    b.subscribe(fast.asRes);
    slow.full = true;
    await tick(0);
    assert.equal(slow.messages.length, 1, 'the write that filled it');
    await tick(3000);
    assert.equal(slow.messages.length, 1, 'nothing more while full');
    assert.equal(fast.messages.length, 4);
    slow.full = false;
    slow.emit('drain');
    await tick(1000);
    assert.equal(slow.messages.length, 2);
    slow.full = true;
    await tick(1000);
    await tick(30_000);
    assert.equal(slow.destroyed, false, 'not yet: blocked exactly 30 s');
    await tick(1000);
    assert.equal(slow.destroyed, true);
    assert.equal(b.subscribers, 1);
    b.close();
  });

  it('a failed build is reported and the next tick builds again; builds never overlap', async () => {
    fake();
    const errors: unknown[] = [];
    let calls = 0;
    let release: ((body: string) => void) | undefined;
    const b = new SnapshotBroadcaster({
      build: () => {
        calls++;
        if (calls === 1) return Promise.reject(new Error('no snapshot'));
        return new Promise<string>((r) => { release = r; });
      },
      intervalMs: 1000,
      onError: (e) => errors.push(e),
    });
    const a = new FakeRes();
    b.subscribe(a.asRes);
    await tick(0);
    assert.match(String(errors[0]), /no snapshot/);
    assert.equal(a.messages.length, 0);
    await tick(1000);
    assert.equal(calls, 2);
    // The build hangs: ticks meanwhile start no second one.
    await tick(5000);
    assert.equal(calls, 2);
    release!('late');
    await settle();
    assert.deepEqual(a.messages, ['data: late\n\n']);
    b.close();
  });

  it('close() ends every subscriber and stops; later subscribers get 503; twice is harmless', async () => {
    fake();
    const { b } = counting();
    const a = new FakeRes();
    b.subscribe(a.asRes);
    await tick(0);
    b.close();
    b.close();
    assert.equal(a.ended, true);
    assert.equal(b.subscribers, 0);
    await tick(10_000);
    assert.equal(b.builds, 1);
    const c = new FakeRes();
    b.subscribe(c.asRes);
    assert.equal(c.status, 503);
    assert.equal(c.ended, true);
  });
});

describe('SnapshotBroadcaster on a real socket', () => {
  it('queues at most one message for a subscriber that does not read', async () => {
    const big = JSON.stringify('x'.repeat(256 * 1024));
    const b = new SnapshotBroadcaster({ build: () => Promise.resolve(big), intervalMs: 50 });
    let serverRes: ServerResponse | undefined;
    const server = http.createServer((_req, res) => { serverRes = res; b.subscribe(res); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        http.get({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', path: '/', agent: false }, resolve).on('error', reject);
      });
      res.pause(); // never reads
      await until(() => b.builds >= 30, 15_000, 'thirty ticks');
      // Socket buffers take some; what Node holds for it is at most the one frame it could not send.
      assert.ok(serverRes!.writableLength <= big.length + 64, `queued ${serverRes!.writableLength} bytes`);
      res.destroy();
    } finally {
      b.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
