// The status page's data of one process, on fake time: stream states, client rows and
// their lag, the sparkline sampling timer, the control actions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientRegistry, LocalStatusSource, type LocalStatusStream, type StatusStreamControl } from '../../../src/status/source.js';
import { StatsCollector } from '../../../src/metrics/stats.js';
import type { StreamClient, StreamView } from '../../../src/stream/contracts.js';
import type { AdmittedClient } from '../../../src/http/stream.js';
import { FakeClock } from '../../helpers/clock.js';

type Control = { -readonly [K in keyof StatusStreamControl]: StatusStreamControl[K] };

function stream(name: string, control: Partial<Control> = {}): { control: Control; view: StreamView; displayName: undefined } {
  const view: StreamView = {
    name, connected: false, offline: false, currentUrl: 'http://user:secret@up.example/x.ts', reconnects: 2, bytesIn: 0,
    hub: { packetsIn: 10, packetsSent: 20, packetsDropped: 1, clientCount: 0, clientMs: () => 0 },
    aligner: { discardedBytes: 0 },
  };
  const c: Control = {
    name, ondemand: false, offline: false, connected: false, idleOnDemand: false, inGrace: false, clientCount: 0,
    hub: { kind: 'hub', ring: { head: 500 } },
    setOffline(off) { this.offline = off; },
    ...control,
  };
  return { control: c, view, displayName: undefined };
}

function source(streams: LocalStatusStream[], o: { enabled?: boolean; clients?: ClientRegistry } = {}) {
  const clock = new FakeClock();
  const stats = new StatsCollector({
    streams: streams.map((s) => s.view), connections: () => 3, maxConnections: 10, fullConnections: 8,
    enabled: o.enabled ?? true, sampler: { now: () => clock.now() },
  });
  const src = new LocalStatusSource({
    streams, stats, connections: () => 3, maxConnections: 10, fullConnections: 8,
    redact: (u) => u.replace(/\/\/[^@]*@/, '//'), clients: o.clients, clock,
  });
  return { src, clock };
}

function admitted(streamName: string, cursor: number, connectedAt: number, onEnd: () => void = () => {}): AdmittedClient {
  const client: StreamClient = { cursor, closed: false, connectedAt, packetsSent: 7, packetsDropped: 0 };
  return { stream: streamName, remote: '10.0.0.1', userAgent: 'vlc', user: undefined, client, end: onEnd };
}

test('each stream\'s state, in order of precedence: offline, connected, grace, idle (on demand), connecting', async () => {
  const streams = [
    stream('/a', { offline: true, connected: true }),
    stream('/b', { connected: true, inGrace: true }),
    stream('/c', { inGrace: true, idleOnDemand: true }),
    stream('/d', { idleOnDemand: true, ondemand: true }),
    stream('/e'),
  ];
  const { src } = source(streams);
  const snap = await src.snapshot();
  assert.deepEqual(snap.streams.map((s) => s.state), ['offline', 'connected', 'grace', 'idle', 'connecting']);
  assert.equal(snap.streams[0]!.upstream, 'http://up.example/x.ts', 'redacted');
  assert.deepEqual([snap.connections, snap.maxConnections, snap.fullConnections], [3, 10, 8]);
});

test('client rows: time from the injected clock, lag from the ring head; a relay output (no clients here) lists none', async () => {
  const clients = new ClientRegistry();
  const s = stream('/a');
  const { src, clock } = source([s], { clients });
  const forget = clients.add(admitted('/a', 450, clock.now()));
  clock.tick(5000);
  const snap = await src.snapshot();
  assert.equal(snap.time, clock.now());
  assert.equal(snap.clientDetails, true);
  assert.deepEqual(snap.streams[0]!.clientList.map((c) => [c.id, c.durationMs, c.lagPackets, c.bytes]), [['c1', 5000, 50, 7 * 188]]);
  s.control.hub = { kind: 'relay' };
  assert.equal((await src.snapshot()).streams[0]!.clientList[0]!.lagPackets, 0);
  forget();
  assert.deepEqual((await src.snapshot()).streams[0]!.clientList, []);
  assert.equal((await source([s]).src.snapshot()).clientDetails, false);
});

test('the sparkline history is sampled at start and every 2 s of the clock until close()', async () => {
  const { src, clock } = source([stream('/a')]);
  src.start();
  src.start();
  clock.tick(6000);
  assert.equal((await src.snapshot()).streams[0]!.historyIn.length, 4);
  src.close();
  src.close();
  assert.equal(clock.pending, 0);
  clock.tick(6000);
  assert.equal((await src.snapshot()).streams[0]!.historyIn.length, 4);
});

test('without statistics (nostats) nothing is sampled', async () => {
  const { src, clock } = source([stream('/a')], { enabled: false });
  src.start();
  assert.equal(clock.pending, 0);
  assert.deepEqual((await src.snapshot()).streams[0]!.historyIn, []);
});

test('control actions: end a client by id, switch a stream offline; unknown ones answer false', async () => {
  const clients = new ClientRegistry();
  let ended = 0;
  const s = stream('/a');
  const { src } = source([s], { clients });
  clients.add(admitted('/a', 0, 0, () => { ended++; }));
  assert.equal(await src.endClient('c1'), true);
  assert.equal(ended, 1);
  assert.equal(await src.endClient('c9'), false);
  assert.equal(await src.setOffline('/a', true), true);
  assert.equal(s.control.offline, true);
  assert.equal(await src.setOffline('/nope', true), false);
});

test('ClientRegistry lists a stream\'s clients oldest first, up to a limit', () => {
  const r = new ClientRegistry();
  for (let i = 0; i < 5; i++) r.add(admitted(i % 2 ? '/b' : '/a', i, i));
  assert.deepEqual([...r.of('/a', 2)].map(([id]) => id), ['c1', 'c3']);
  assert.deepEqual([...r.of('/a', 10)].map(([id]) => id), ['c1', 'c3', 'c5']);
  assert.deepEqual([...r.of('/none', 10)], []);
  assert.equal(r.get('c2')?.stream, '/b');
});

test('health: the active alarms and the per-indicator counts of the checks where they run; none where they do not', async () => {
  const s = stream('/a', { connected: true });
  const counts = { pid_error: 2, cc_error: 0 } as unknown as ReturnType<NonNullable<StreamView['health']>['counts']>;
  const withHealth: StreamView = { ...s.view, health: { alarms: ['pid_error'], counts: () => counts } };
  const plain = stream('/b');
  const { src } = source([{ ...s, view: withHealth }, plain]);
  const snap = await src.snapshot();
  assert.deepEqual(snap.streams[0]!.alarms, ['pid_error']);
  assert.deepEqual(snap.streams[0]!.healthErrors, { pid_error: 2, cc_error: 0 });
  assert.deepEqual(snap.streams[1]!.alarms, []);
  assert.equal(snap.streams[1]!.healthErrors, null);
});

test('why the upstream in use is the one in use: redacted, and said in a sentence; null while none delivers', async () => {
  const cur = 'http://user:secret@up.example/x.ts';
  const other = 'http://user:secret@other.example/y.ts';
  const s = stream('/a', { connected: true, switchReason: { kind: 'health', from: other, detail: 'UPSTREAM_UNHEALTHY: pid_error raised for 2 s', failed: 0, since: 123 } });
  const { src } = source([s, stream('/b')]);
  const snap = await src.snapshot();
  assert.deepEqual(snap.streams[0]!.upstreamReason, {
    kind: 'health', from: 'http://other.example/y.ts', detail: 'UPSTREAM_UNHEALTHY: pid_error raised for 2 s', failed: 0, since: 123,
    text: 'health failover from http://other.example/y.ts: pid_error raised for 2 s',
  });
  assert.equal(snap.streams[1]!.upstreamReason, null);
  const text = async (r: Partial<NonNullable<Control['switchReason']>>): Promise<string | undefined> => {
    s.control.switchReason = { kind: 'start', from: undefined, detail: undefined, failed: 0, since: 0, ...r };
    return (await src.snapshot()).streams[0]!.upstreamReason?.text;
  };
  assert.equal(await text({}), 'the first remote tried');
  assert.equal(await text({ kind: 'failed', from: other, detail: 'UPSTREAM_NO_SYNC: no lock', failed: 2 }),
    'the remotes tried before failed (2 failed attempts; last: http://other.example/y.ts: UPSTREAM_NO_SYNC: no lock)');
  assert.equal(await text({ kind: 'lost', from: cur, detail: 'UPSTREAM_IO: reset' }), 'reconnected: the connection was lost (UPSTREAM_IO: reset)');
  assert.equal(await text({ kind: 'lost', from: other, failed: 1 }), 'failover: http://other.example/y.ts was lost (ended); 1 failed attempt since');
  assert.equal(JSON.stringify(await src.snapshot()).includes('secret'), false);
});
