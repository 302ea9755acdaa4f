// One stream resource on fake time: real tcp upstreams on port 0 (their I/O awaited with
// condition waits), every timer of the Stream and its supervisor on the injected clock:
// connected at the first aligned packet, grace, on-demand wait and linger, offline, the
// discard summary and close.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { parseConfig } from '../../../src/config/load.js';
import type { Config, ResourceConfig } from '../../../src/config/schema.js';
import { Stream } from '../../../src/stream/stream.js';
import type { EndReason, RelayOutput } from '../../../src/stream/contracts.js';
import type { EndReason as HubEndReason } from '../../../src/hub/hub.js';
import type { Clock } from '../../../src/hub/clock.js';
import { StreamAnalyzer } from '../../../src/ts/analyzer.js';
import { FakeClock } from '../../helpers/clock.js';
import { capturedLogger, type LogLine } from '../../helpers/inproc.js';
import { garbage, makeStream } from '../../helpers/packets.js';
import { until } from '../../helpers/wait.js';

/** An output that records what the Stream tells it, in order (consecutive pushes as one). */
class RecordingOutput implements RelayOutput {
  readonly kind = 'relay';
  readonly analyzer = new StreamAnalyzer();
  packetsIn = 0;
  clientCount = 0;
  readonly calls: string[] = [];
  push(_b: Buffer, _o: number, n: number): void {
    this.packetsIn += n;
    if (this.calls.at(-1) !== 'push') this.calls.push('push');
  }
  flush(): void { this.calls.push('flush'); }
  upstreamLost(): void { this.calls.push('lost'); }
  upstreamResumed(): void { this.calls.push('resumed'); }
  endAll(reason: EndReason): void { this.calls.push(`end:${reason}`); }
  state(up: boolean, offline: boolean): void { this.calls.push(`state:${up ? 'up' : 'down'}${offline ? ',offline' : ''}`); }
  close(): void { this.calls.push('close'); }
}

/** A tcp upstream; `behave(socket, n)` runs for the n-th accepted connection (1-based). */
async function upstream(behave: (s: net.Socket, n: number) => void): Promise<{ url: string; accepts: number; closes: number; server: net.Server }> {
  const u = { url: '', accepts: 0, closes: 0, server: net.createServer((s) => {
    u.accepts++;
    s.on('error', () => {});
    s.on('close', () => { u.closes++; });
    s.resume();
    behave(s, u.accepts);
  }) };
  servers.push(u.server);
  await new Promise<void>((r) => u.server.listen(0, '127.0.0.1', r));
  u.url = `tcp://127.0.0.1:${(u.server.address() as net.AddressInfo).port}`;
  return u;
}

const servers: net.Server[] = [];
const streams: Stream[] = [];
after(() => {
  for (const s of streams) s.close();
  for (const s of servers) { s.close(); }
});

interface Setup { stream: Stream<RecordingOutput>; out: RecordingOutput; clock: FakeClock; lines: LogLine[] }

async function setup(remote: string, o: { cfg?: Record<string, unknown>; res?: Record<string, unknown> } = {}): Promise<Setup> {
  const cfg: Config = await parseConfig(JSON.stringify({
    listen: '127.0.0.1:0', reconnect: 1, ...o.cfg,
    resources: [{ type: 'stream', serve: '/s.ts', remote, ...o.res }],
  }), '/tmp');
  const res: ResourceConfig = cfg.resources[0]!;
  const clock = new FakeClock();
  const { log, lines } = capturedLogger();
  const out = new RecordingOutput();
  const stream = new Stream(res, cfg, log, () => out, clock);
  streams.push(stream);
  return { stream, out, clock, lines };
}

/** Packets, then nothing (the connection stays open). */
const feed = (n = 20) => (s: net.Socket): void => { s.write(makeStream(n)); };

test('connected once the upstream delivers an aligned packet (not at connect); the relay output hears it before the packets', async () => {
  const up = await upstream((s) => { s.write(garbage(300)); setTimeout(() => s.write(makeStream(20)), 50); });
  const { stream, out } = await setup(up.url);
  assert.equal(stream.connected, false);
  stream.start();
  await until(() => up.accepts === 1 && stream.bytesIn >= 300, 5000, 'the garbage');
  assert.equal(stream.connected, false, 'garbage is no stream');
  assert.equal(stream.available, false);
  await until(() => stream.connected, 5000, 'the packets');
  assert.equal(stream.available, true);
  assert.equal(stream.currentUrl, up.url);
  assert.deepEqual(out.calls, ['state:up', 'push']);
});

test('upstream lost with viewers: clients ride through the grace period and resume at the next connection, before its packets', async () => {
  const up = await upstream((s, n) => { s.write(makeStream(20)); if (n === 1) setTimeout(() => s.end(), 20); });
  const { stream, out, clock } = await setup(up.url);
  out.clientCount = 2;
  stream.start();
  await until(() => out.calls.includes('lost'), 5000, 'the loss');
  assert.equal(stream.inGrace, true);
  assert.equal(stream.connected, false);
  clock.tick(1000); // reconnect: 1 s after the lost connection's attempt started
  await until(() => stream.connected, 5000, 'the second connection');
  assert.equal(stream.inGrace, false);
  // (The push after the loss is the packet the aligner held back until the connection ended, then offered.)
  assert.deepEqual(out.calls, ['state:up', 'push', 'state:down', 'push', 'flush', 'lost', 'resumed', 'state:up', 'push']);
  assert.equal(stream.reconnects, 1);
  clock.tick(10_000);
  assert.ok(!out.calls.some((c) => c.startsWith('end:')), 'nobody was ended');
});

test('grace over without an upstream: the clients are ended', async () => {
  const up = await upstream((s, n) => { if (n === 1) { s.write(makeStream(20)); setTimeout(() => s.end(), 20); } });
  const { stream, out, clock, lines } = await setup(up.url, { cfg: { grace: 5 } });
  out.clientCount = 1;
  stream.start();
  await until(() => out.calls.includes('lost'), 5000, 'the loss');
  clock.tick(4990);
  assert.equal(stream.inGrace, true);
  clock.tick(10);
  assert.equal(stream.inGrace, false);
  assert.equal(out.calls.at(-1), 'end:upstream_lost');
  assert.ok(lines.some((l) => l.msg === 'grace period over: ending clients'));
});

test('upstream lost without viewers: ended at once, no grace', async () => {
  const up = await upstream((s, n) => { if (n === 1) { s.write(makeStream(20)); setTimeout(() => s.end(), 20); } });
  const { stream, out } = await setup(up.url);
  stream.start();
  await until(() => out.calls.includes('end:upstream_lost'), 5000, 'the loss');
  assert.equal(stream.inGrace, false);
  assert.ok(!out.calls.includes('lost'));
});

test('on demand: no upstream until asked; demand() resolves once it delivers; the last viewer leaving starts the linger, then it stops', async () => {
  const up = await upstream(feed());
  const { stream, out, clock } = await setup(up.url, { res: { ondemand: true, linger: 5 } });
  stream.start();
  assert.equal(stream.idleOnDemand, true);
  assert.equal(up.accepts, 0);
  assert.equal(await stream.demand(), true);
  stream.viewerJoined();
  stream.viewerLeft();
  clock.tick(4990);
  assert.equal(stream.connected, true, 'lingering');
  stream.viewerJoined(); // a viewer back within the linger keeps it
  clock.tick(10_000);
  assert.equal(stream.connected, true);
  stream.viewerLeft();
  clock.tick(5000);
  assert.equal(stream.idleOnDemand, true);
  assert.equal(stream.connected, false);
  assert.equal(out.calls.at(-1), 'end:upstream_lost');
  await until(() => up.closes === 1, 5000, 'the upstream closed');
  assert.equal(await stream.demand(), true, 'asked again: started again');
  assert.equal(up.accepts, 2);
});

test('on demand: an upstream that does not deliver within `timeout` answers false, then lingers and stops', async () => {
  const up = await upstream(() => { /* accepts, sends nothing */ });
  const { stream, clock } = await setup(up.url, { cfg: { timeout: 2 }, res: { ondemand: true, linger: 3 } });
  const answer = stream.demand();
  await until(() => up.accepts === 1, 5000, 'the connection');
  clock.tick(2000);
  assert.equal(await answer, false);
  assert.equal(stream.idleOnDemand, false);
  clock.tick(3000);
  assert.equal(stream.idleOnDemand, true);
});

test('offline: every client ended, nothing served or started, state published; online again serves', async () => {
  const up = await upstream(feed());
  const { stream, out } = await setup(up.url);
  stream.start();
  await until(() => stream.connected, 5000, 'the upstream');
  stream.setOffline(true);
  stream.setOffline(true);
  assert.equal(stream.available, false);
  assert.equal(stream.offline, true);
  assert.deepEqual(out.calls.slice(-2), ['end:offline', 'state:up,offline']);
  assert.equal(await stream.demand(), false);
  stream.setOffline(false);
  assert.equal(stream.available, true);
  assert.equal(out.calls.at(-1), 'state:up');
});

test('discarded input is summarised once per 10 s (aligner_discard); a connection\'s first lock alone is no fault', async () => {
  const up = await upstream((s) => { s.write(Buffer.concat([garbage(1000), makeStream(20)])); });
  const { stream, clock, lines } = await setup(up.url);
  stream.start();
  await until(() => stream.connected, 5000, 'the upstream');
  const discards = () => lines.filter((l) => l.evt === 'aligner_discard');
  assert.equal(discards().length, 0, 'not per chunk');
  assert.ok(lines.some((l) => l.msg === 'upstream locked: 188-byte packets'));
  clock.tick(10_000);
  assert.deepEqual(discards().map((l) => [l.discarded, l.totalDiscarded]), [[1000, 1000]]);
  clock.tick(10_000);
  assert.equal(discards().length, 1, 'nothing new: no line');
});

test('close(): the upstream, the output and every timer end; waiting requests get false; idempotent', async () => {
  const up = await upstream(() => {});
  const { stream, out, clock } = await setup(up.url, { res: { ondemand: true } });
  const answer = stream.demand();
  await until(() => up.accepts === 1, 5000, 'the connection');
  stream.close();
  stream.close();
  assert.equal(await answer, false);
  assert.deepEqual(out.calls.filter((c) => c === 'close'), ['close']);
  assert.equal(clock.pending, 0);
  await until(() => up.closes === 1, 5000, 'the upstream closed');
});

test('the output is built on the stream\'s clock', async () => {
  let given: Clock | undefined;
  const cfg = await parseConfig(JSON.stringify({ listen: '127.0.0.1:0', resources: [{ type: 'stream', serve: '/s.ts', remote: 'tcp://127.0.0.1:9' }] }), '/tmp');
  const clock = new FakeClock();
  const stream = new Stream(cfg.resources[0]!, cfg, capturedLogger().log, (c) => { given = c; return new RecordingOutput(); }, clock);
  assert.equal(given, clock);
  stream.close();
});

test('the hub ends clients for exactly the contracts\' reasons (hub/ cannot import them: the compiler checks here)', () => {
  type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
  const same: Same<HubEndReason, EndReason> = true;
  assert.equal(same, true);
});
