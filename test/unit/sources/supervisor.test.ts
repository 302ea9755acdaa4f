// The supervisor on fake time: order, failover, the reconnect rule, connect and read
// timeouts, what counts as connected, offline mode and a clean close. Upstreams are fake
// kinds the tests drive (one real http upstream shows the real kinds plug in the same way).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../../src/log/logger.js';
import { RestreamerError } from '../../../src/errors.js';
import { Supervisor, type SupervisorOptions } from '../../../src/sources/supervisor.js';
import { UpstreamBase } from '../../../src/sources/base.js';
import type { DataSink, SourceKind } from '../../../src/sources/source.js';
import { TsAligner } from '../../../src/ts/aligner.js';
import { FakeClock } from '../../helpers/clock.js';
import { garbage, makeStream } from '../../helpers/packets.js';
import { until } from '../../helpers/wait.js';

interface Line { evt?: string; code?: string; url?: string; level?: number; [k: string]: unknown }

/** An upstream the test drives: connect, send bytes, end; optionally fed by the fake clock. */
class FakeUpstream extends UpstreamBase {
  torn = false;
  private feeder: number | undefined;
  constructor(readonly url: string, private readonly sink: DataSink, private readonly clock: FakeClock, override readonly connectsOnData: boolean) { super(); }
  connect(): void { this.markConnected(); }
  send(b: Buffer): void { this.sink(b); }
  end(error?: RestreamerError): void { this.finish(error); }
  /** Connect and send `make()` every `everyMs` of fake time until it ends. */
  stream(make: () => Buffer, everyMs = 20): void {
    this.connect();
    this.feeder = this.clock.setInterval(() => { this.send(make()); }, everyMs) as number;
  }
  protected teardown(): void {
    this.torn = true;
    if (this.feeder !== undefined) this.clock.clearInterval(this.feeder);
  }
}

interface Harness {
  sup: Supervisor;
  clock: FakeClock;
  logs: Line[];
  /** Supervisor callbacks in order, with the fake time they came at. */
  events: { t: number; what: 'transport' | 'up' | 'down'; url: string; code?: string }[];
  /** Every upstream opened, in order. */
  opened: FakeUpstream[];
  bytes: number;
  /** Let fake time pass in steps of 10 ms, settling promises after each. */
  advance(ms: number): Promise<void>;
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
const supervisors = new Set<Supervisor>();
after(() => { for (const s of supervisors) s.close(); });

/**
 * A supervisor on fake time over `fake://name` (a connection) and `fakedgram://name` (a
 * datagram receiver) upstreams; `behave(up, n)` runs when the n-th one (1-based) opens.
 */
function supervise(o: Partial<SupervisorOptions> & { remotes: string[] }, behave: (up: FakeUpstream, n: number) => void = () => {}): Harness {
  const logs: Line[] = [];
  const { logger } = createLogger({ level: 'debug', stream: { write: (s: string) => { logs.push(JSON.parse(s) as Line); } } });
  const clock = new FakeClock();
  const kind: SourceKind = {
    schemes: ['fake', 'fakedgram'],
    open: (ctx, onData) => {
      const up = new FakeUpstream(ctx.url.href, onData, clock, ctx.url.protocol === 'fakedgram:');
      h.opened.push(up);
      behave(up, h.opened.length);
      return up;
    },
  };
  const h: Harness = {
    sup: undefined as unknown as Supervisor, clock, logs, events: [], opened: [], bytes: 0,
    async advance(ms) {
      await settle();
      for (let t = 0; t < ms; t += 10) { clock.tick(Math.min(10, ms - t)); await settle(); }
    },
  };
  h.sup = new Supervisor({
    stream: '/test.ts',
    reconnectS: 10,
    timeoutS: 0,
    readTimeoutS: 0,
    inputBufferPackets: 100,
    options: { mru: 1500, rtpReorder: 8 },
    log: logger,
    clock,
    onData: (c) => { h.bytes += c.length; },
    onTransportConnected: (url) => { h.events.push({ t: clock.now(), what: 'transport', url }); },
    onConnected: (url) => { h.events.push({ t: clock.now(), what: 'up', url }); },
    onDisconnected: (url, reason) => { h.events.push({ t: clock.now(), what: 'down', url, code: reason?.code }); },
    shuffle: (u) => u,
    findKind: (s) => (kind.schemes.includes(s.replace(/:$/, '')) ? kind : undefined),
    ...o,
  });
  supervisors.add(h.sup);
  return h;
}

const what = (h: Harness): string[][] => h.events.map((e) => [e.what, e.url]);
const errors = (h: Harness): string[][] => h.logs.filter((l) => l.evt === 'upstream_error').map((l) => [String(l.url), String(l.code)]);

/** Supervisor options wired to a real aligner, as src/stream/stream.ts does. */
function withAligner(): Pick<SupervisorOptions, 'onData' | 'packets' | 'discarded'> & { aligner: TsAligner } {
  const aligner = new TsAligner(() => {});
  return { aligner, onData: (c) => { aligner.push(c); }, packets: () => aligner.packets, discarded: () => aligner.discardedBytes };
}

test('remotes are tried round-robin in the (injected) shuffled order; reconnects count every attempt after the first', async () => {
  const urls = ['fake://a/', 'fake://b/', 'fake://c/'];
  const h = supervise({ remotes: urls, reconnectS: 1, shuffle: (u) => u.slice().reverse() }, (up) => { up.connect(); up.send(Buffer.alloc(188)); up.end(); });
  h.sup.start();
  await h.advance(5500);
  const rev = urls.slice().reverse();
  assert.deepEqual(h.opened.map((u) => u.url), [...rev, ...rev]);
  // Each short connection waited out `reconnect` from its start.
  assert.deepEqual(h.events.filter((e) => e.what === 'transport').map((e) => e.t - h.events[0]!.t), [0, 1000, 2000, 3000, 4000, 5000]);
  assert.deepEqual(h.events.filter((e) => e.what === 'up').slice(0, 3).map((e) => e.url), rev);
  assert.equal(h.sup.reconnects, h.opened.length - 1);
  assert.equal(h.sup.bytesIn, h.opened.length * 188);
});

test('a failed remote hands over to the next one at once; the failure is logged once with its reason', async () => {
  const h = supervise({ remotes: ['fake://bad/', 'fake://good/'], reconnectS: 30 }, (up, n) => {
    if (n === 1) up.end(new RestreamerError('UPSTREAM_HTTP_STATUS', 'upstream answered 404'));
    else { up.connect(); up.send(Buffer.alloc(188)); }
  });
  h.sup.start();
  await h.advance(10);
  assert.equal(h.sup.connected, true);
  assert.equal(h.sup.currentUrl, 'fake://good/');
  assert.deepEqual(what(h), [['transport', 'fake://good/'], ['up', 'fake://good/']]);
  assert.deepEqual(errors(h), [['fake://bad/', 'UPSTREAM_HTTP_STATUS']]);
  h.sup.close();
  assert.equal(h.sup.connected, false);
});

test('a short connection waits out the reconnect delay, counted from when its attempt started', async () => {
  const h = supervise({ remotes: ['fake://a/'], reconnectS: 0.8 }, (up, n) => {
    up.connect(); up.send(Buffer.alloc(188));
    if (n === 1) h.clock.setTimeout(() => { up.end(); }, 300);
  });
  const t0 = h.clock.now();
  h.sup.start();
  await h.advance(1000);
  assert.equal(h.opened.length, 2);
  const down = h.events.find((e) => e.what === 'down')!;
  assert.equal(down.code, undefined, 'a clean end has no error');
  assert.equal(down.t - t0, 300);
  const second = h.events.filter((e) => e.what === 'transport')[1]!;
  assert.ok(second.t - t0 >= 800 && second.t - t0 <= 810, `second attempt at ${second.t - t0} ms, reconnect is 800 ms`);
});

test('a connection that lasted longer than the reconnect delay is retried at once', async () => {
  const h = supervise({ remotes: ['fake://a/'], reconnectS: 1 }, (up, n) => {
    up.connect(); up.send(Buffer.alloc(188));
    if (n === 1) h.clock.setTimeout(() => { up.end(); }, 1200);
  });
  h.sup.start();
  await h.advance(1300);
  const down = h.events.find((e) => e.what === 'down')!;
  const second = h.events.filter((e) => e.what === 'transport')[1]!;
  assert.ok(second.t - down.t <= 10, `reconnected ${second.t - down.t} ms after the loss`);
});

test('after a failed round, the next round starts reconnect after the previous one started', async () => {
  const h = supervise({ remotes: ['fake://a/', 'fake://b/'], reconnectS: 2 }, (up) => { up.end(new RestreamerError('UPSTREAM_REFUSED', 'refused')); });
  h.sup.start();
  await h.advance(1990);
  assert.equal(h.opened.length, 2, 'both remotes of the first round, nothing more yet');
  await h.advance(20);
  assert.deepEqual(h.opened.map((u) => u.url), ['fake://a/', 'fake://b/', 'fake://a/', 'fake://b/']);
  // Each streak of identical failures is one warning; repeats are debug lines.
  const a = h.logs.filter((l) => l.evt === 'upstream_error' && l.url === 'fake://a/');
  assert.deepEqual(a.map((l) => [l.level, l.failures]), [[40, 1], [20, 2]]);
});

test('reconnect 0: after a loss the stream stays offline, nothing scheduled', async () => {
  const h = supervise({ remotes: ['fake://a/'], reconnectS: 0 }, (up) => { up.connect(); up.send(Buffer.alloc(188)); up.end(); });
  h.sup.start();
  await h.advance(5000);
  assert.equal(h.opened.length, 1);
  assert.equal(h.sup.connected, false);
  assert.equal(h.sup.currentUrl, undefined);
  assert.ok(h.logs.some((l) => l.evt === 'upstream_offline'));
  assert.equal(h.clock.pending, 0);
});

test('reconnect 0: a failed first round leaves the stream offline (each remote tried once)', async () => {
  const h = supervise({ remotes: ['fake://a/', 'fake://b/'], reconnectS: 0 }, (up) => { up.end(new RestreamerError('UPSTREAM_REFUSED', 'refused')); });
  h.sup.start();
  await h.advance(5000);
  assert.deepEqual(errors(h), [['fake://a/', 'UPSTREAM_REFUSED'], ['fake://b/', 'UPSTREAM_REFUSED']]);
  assert.ok(h.logs.some((l) => l.evt === 'upstream_offline'));
  assert.equal(h.clock.pending, 0);
});

test('read timeout closes a silent upstream (UPSTREAM_READ_TIMEOUT) and reconnects', async () => {
  const h = supervise({ remotes: ['fake://a/'], reconnectS: 0.1, readTimeoutS: 0.3 }, (up) => { up.connect(); up.send(Buffer.alloc(188)); });
  h.sup.start();
  await h.advance(280);
  assert.equal(h.sup.connected, true, 'not before readtimeout');
  await h.advance(120);
  const down = h.events.find((e) => e.what === 'down')!;
  assert.equal(down.code, 'UPSTREAM_READ_TIMEOUT');
  assert.ok(down.t - h.events[0]!.t >= 300 && down.t - h.events[0]!.t <= 380, `closed after ${down.t - h.events[0]!.t} ms`);
  assert.equal(h.opened[0]!.torn, true, 'the silent upstream was closed');
  assert.equal(h.opened.length, 2);
});

test('read timeout does not fire while data flows', async () => {
  const h = supervise({ remotes: ['fake://a/'], readTimeoutS: 0.25 }, (up) => { up.stream(() => Buffer.alloc(188), 50); });
  h.sup.start();
  await h.advance(3000);
  assert.equal(h.opened.length, 1);
  assert.equal(h.sup.connected, true);
  assert.equal(h.events.filter((e) => e.what === 'down').length, 0);
});

test('connect timeout: an upstream that never connects is abandoned for the next remote', async () => {
  const h = supervise({ remotes: ['fake://silent/', 'fake://good/'], timeoutS: 0.3 }, (up, n) => { if (n === 2) { up.connect(); up.send(Buffer.alloc(188)); } });
  h.sup.start();
  await h.advance(290);
  assert.equal(h.opened.length, 1);
  await h.advance(30);
  assert.equal(h.sup.currentUrl, 'fake://good/');
  assert.equal(h.sup.connected, true);
  assert.deepEqual(errors(h), [['fake://silent/', 'UPSTREAM_CONNECT_TIMEOUT']]);
  assert.equal(h.opened[0]!.torn, true, 'the hanging attempt was closed');
});

test('a datagram receiver must connect (first datagram) within readtimeout, else it is joined again (UPSTREAM_READ_TIMEOUT)', async () => {
  const h = supervise({ remotes: ['fakedgram://group/'], reconnectS: 1, readTimeoutS: 0.5, timeoutS: 0 }, (up, n) => { if (n === 2) up.send(Buffer.alloc(188)); });
  h.sup.start();
  await h.advance(600);
  assert.deepEqual(errors(h), [['fakedgram://group/', 'UPSTREAM_READ_TIMEOUT']]);
  await h.advance(500);
  assert.equal(h.opened.length, 2);
  assert.equal(h.sup.connected, true, 'its first datagram connected it (data proves the connection)');
});

test('close() during the reconnect wait stops everything: no timers, no more attempts; close() is idempotent', async () => {
  const h = supervise({ remotes: ['fake://a/'], reconnectS: 30 }, (up) => { up.end(new RestreamerError('UPSTREAM_REFUSED', 'refused')); });
  h.sup.start();
  await h.advance(20);
  assert.equal(h.clock.pending, 1, 'the reconnect wait is pending');
  h.sup.close();
  h.sup.close();
  assert.equal(h.clock.pending, 0);
  await h.advance(60_000);
  assert.equal(h.opened.length, 1);
  assert.equal(h.sup.reconnects, 0);
});

test('close() while connected closes the upstream and calls no handler', async () => {
  const h = supervise({ remotes: ['fake://a/'], readTimeoutS: 5, timeoutS: 5 }, (up) => { up.connect(); up.send(Buffer.alloc(188)); });
  h.sup.start();
  await h.advance(10);
  assert.equal(h.sup.connected, true);
  h.sup.close();
  await h.advance(10);
  assert.equal(h.opened[0]!.torn, true);
  assert.equal(h.events.filter((e) => e.what === 'down').length, 0);
  assert.equal(h.clock.pending, 0);
});

test('an upstream URL that cannot be opened fails each attempt clearly (UPSTREAM_UNSUPPORTED, with the reason)', async () => {
  const h = supervise({ remotes: ['gopher://x/', 'not a url'], reconnectS: 0 });
  h.sup.start();
  await h.advance(10);
  const errs = h.logs.filter((l) => l.evt === 'upstream_error');
  assert.deepEqual(errs.map((l) => [l.code, l.err]), [
    ['UPSTREAM_UNSUPPORTED', 'unsupported upstream scheme "gopher:"'],
    ['UPSTREAM_UNSUPPORTED', 'invalid upstream URL: not a url'],
  ]);
});

test('misbehaving sources and handlers cannot crash the process', async () => {
  class Flaky extends UpstreamBase {
    constructor(onData: DataSink) {
      super();
      queueMicrotask(() => { this.markConnected(); onData(Buffer.alloc(188)); this.finish(new RestreamerError('UPSTREAM_IO', 'gone')); });
    }
    protected teardown(): void { throw new Error('teardown bug'); }
  }
  const kinds: Record<string, SourceKind> = {
    'throw:': { schemes: ['throw'], open: () => { throw new TypeError('open bug'); } },
    'flaky:': { schemes: ['flaky'], open: (_c, onData) => new Flaky(onData) },
  };
  const h = supervise({
    remotes: ['throw://a', 'nope://b', 'flaky://c'],
    reconnectS: 0,
    findKind: (s) => kinds[s],
    onData: () => { throw new Error('sink bug'); },
    onConnected: () => { throw new Error('handler bug'); },
  });
  h.sup.start();
  await h.advance(50);
  assert.ok(h.logs.some((l) => l.evt === 'upstream_offline'));
  assert.deepEqual(errors(h).map((e) => e[1]), ['UPSTREAM_IO', 'UPSTREAM_UNSUPPORTED']);
  assert.ok(h.logs.some((l) => l.evt === 'upstream_disconnect' && l.code === 'UPSTREAM_IO'));
  assert.deepEqual(h.logs.filter((l) => l.msg === 'stream data handler threw' || l.msg === 'stream state handler threw').map((l) => l.msg),
    ['stream data handler threw', 'stream state handler threw'], 'each logged, the sink error once');
});

// --- Connected: an upstream counts once it delivers aligned packets ---

test('garbage only: no aligned packet within readtimeout fails the remote (UPSTREAM_NO_SYNC, bytes counted) and the next one serves at once', async () => {
  const a = withAligner();
  let seq = 0;
  const h = supervise({ remotes: ['fake://bad/', 'fake://good/'], reconnectS: 5, readTimeoutS: 0.4, ...a }, (up, n) => {
    if (n === 1) up.stream(() => garbage(1316, seq++));
    else up.stream(() => makeStream(7, 0x100, (seq += 7)));
  });
  h.sup.start();
  await h.advance(400);
  assert.equal(h.sup.connected, false, 'garbage is no connection');
  await h.advance(200);
  assert.equal(h.sup.connected, true);
  assert.equal(h.sup.currentUrl, 'fake://good/');
  assert.deepEqual(what(h), [['transport', 'fake://bad/'], ['transport', 'fake://good/'], ['up', 'fake://good/']]);
  const err = h.logs.find((l) => l.evt === 'upstream_error')!;
  assert.deepEqual([err.url, err.code], ['fake://bad/', 'UPSTREAM_NO_SYNC']);
  // All of it discarded, but the last few hundred bytes the aligner was still looking at.
  const bytes = err.bytes as number;
  const discarded = err.discarded as number;
  assert.ok(bytes > 0 && discarded <= bytes && discarded > bytes - 1024, `bytes ${bytes}, discarded ${discarded}`);
  assert.deepEqual(h.logs.filter((l) => l.evt === 'upstream_connect').map((l) => l.url), ['fake://good/']);
  assert.equal(h.opened[0]!.torn, true, 'the garbage upstream was closed');
});

test('readtimeout 0: garbage trickling in (under 64 KiB) fails after the lock time (5 s); a silent upstream is waited for', async () => {
  const a = withAligner();
  let seq = 0;
  // 100 bytes every 20 ms: 25 KB in 5 s, below the 64 KiB that would fail it sooner.
  const h = supervise({ remotes: ['fake://bad/', 'fake://silent/'], reconnectS: 30, readTimeoutS: 0, ...a }, (up, n) => {
    if (n === 1) up.stream(() => garbage(100, seq++));
    else up.connect();
  });
  h.sup.start();
  await h.advance(4900);
  assert.deepEqual(errors(h), []);
  await h.advance(1200);
  assert.deepEqual(errors(h), [['fake://bad/', 'UPSTREAM_NO_SYNC']]);
  await h.advance(60_000);
  assert.equal(h.opened.length, 2, 'the silent one is still waited for');
  assert.equal(h.sup.currentUrl, 'fake://silent/');
  assert.equal(h.sup.connected, false);
});

test('garbage fails fast: 64 KiB discarded without an aligned packet fails the remote at that chunk, and the next one opens at once', async () => {
  let seq = 0;
  // 4 KiB every 20 ms; readtimeout 0 (lock time 5 s) and a long readtimeout alike.
  for (const readTimeoutS of [0, 10]) {
    const a = withAligner();
    const h = supervise({ remotes: ['fake://bad/', 'fake://good/'], reconnectS: 30, readTimeoutS, ...a }, (up, n) => {
      if (n === 1) up.stream(() => garbage(4096, seq++));
      else up.stream(() => makeStream(7, 0x100, (seq += 7)));
    });
    h.sup.start();
    await h.advance(300); // 15 chunks: 60 KiB
    assert.deepEqual(errors(h), [], `readtimeout ${readTimeoutS}: not yet`);
    await h.advance(100);
    assert.deepEqual(errors(h), [['fake://bad/', 'UPSTREAM_NO_SYNC']], `readtimeout ${readTimeoutS}`);
    const err = h.logs.find((l) => l.evt === 'upstream_error')!;
    assert.match(String(err.err), /no lock within 64 KiB/);
    assert.ok((err.discarded as number) > 64 * 1024 && (err.bytes as number) <= 18 * 4096, `bytes ${String(err.bytes)}, discarded ${String(err.discarded)}`);
    assert.equal(h.opened[0]!.torn, true, 'the garbage upstream was closed');
    await h.advance(100);
    assert.equal(h.sup.currentUrl, 'fake://good/');
    assert.equal(h.sup.connected, true);
    assert.deepEqual(h.sup.switchReason && [h.sup.switchReason.kind, h.sup.switchReason.from, h.sup.switchReason.failed], ['failed', 'fake://bad/', 1], 'why it is on the good one');
    h.sup.close();
  }
});

test('an upstream that loses sync for good after delivering is closed after readtimeout (UPSTREAM_NO_SYNC)', async () => {
  const a = withAligner();
  let sent = 0;
  const h = supervise({ remotes: ['fake://a/'], reconnectS: 30, readTimeoutS: 0.4, ...a }, (up) => {
    up.stream(() => (sent++ < 5 ? makeStream(7, 0x100, sent * 7) : garbage(1316, sent)));
  });
  h.sup.start();
  await h.advance(1000);
  assert.deepEqual(h.events.filter((e) => e.what !== 'transport').map((e) => [e.what, e.code]), [['up', undefined], ['down', 'UPSTREAM_NO_SYNC']]);
});

test('delivering(): the owner establishes the connection before its first packet goes on, once', async () => {
  const ref: { sup?: Supervisor } = {};
  const seen: boolean[] = [];
  const aligner = new TsAligner(() => { if (ref.sup?.connected === false) ref.sup.delivering(); seen.push(ref.sup?.connected ?? false); });
  const h = supervise({ remotes: ['fake://a/'], onData: (c) => { aligner.push(c); }, packets: () => aligner.packets }, (up) => {
    up.connect();
    up.send(garbage(100)); // no packet: delivering() is not called, nothing is established
    assert.equal(ref.sup?.connected, false);
    up.send(makeStream(10));
  });
  ref.sup = h.sup;
  h.sup.start();
  await h.advance(10);
  assert.ok(seen.length > 0 && seen.every(Boolean), 'connected before every packet went on');
  assert.deepEqual(h.logs.filter((l) => l.evt === 'upstream_connect').length, 1);
  h.sup.delivering(); // already connected: nothing happens
  assert.deepEqual(h.events.map((e) => e.what), ['transport', 'up']);
});

test('a real http upstream: a 404 hands over to the next remote at once', async () => {
  const bad = http.createServer((_q, r) => { r.writeHead(404).end(); });
  const good = http.createServer((_q, r) => { r.writeHead(200); r.write(Buffer.alloc(188 * 10, 0x47)); });
  const url = async (s: http.Server, path: string): Promise<string> => {
    await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}${path}`;
  };
  const badUrl = await url(bad, '/a.ts');
  const goodUrl = await url(good, '/b.ts');
  // Real sockets, so the real clock and the registry's kinds.
  const h = supervise({ remotes: [badUrl, goodUrl], reconnectS: 30, findKind: undefined, clock: undefined });
  try {
    h.sup.start();
    await until(() => h.sup.connected, 5000, 'the second remote');
    assert.equal(h.sup.currentUrl, goodUrl);
    assert.equal(h.opened.length, 0, 'the registry\'s kinds, not the fake ones');
    const err = h.logs.filter((l) => l.evt === 'upstream_error');
    assert.deepEqual(err.map((l) => l.code), ['UPSTREAM_HTTP_STATUS']);
    assert.match(String(err[0]!.err), /404/);
  } finally {
    h.sup.close();
    for (const s of [bad, good]) { s.closeAllConnections(); s.close(); }
  }
});

test('failover "health": listed order; a trigger held for alarmtime ends the run (UPSTREAM_UNHEALTHY) and the next remote opens at once; the broken one is passed over for reconnect', async () => {
  const h = supervise({ remotes: ['fake://a/', 'fake://b/', 'fake://c/'], reconnectS: 30, shuffle: (u) => u.slice().reverse(), healthFailover: { alarmTimeS: 2 } }, (up) => {
    up.connect(); up.send(Buffer.alloc(188));
  });
  h.sup.start();
  await h.advance(10);
  assert.equal(h.sup.currentUrl, 'fake://a/', 'no shuffle with health failover');
  const t0 = h.clock.now();
  h.sup.healthAlarm('pid_error');
  await h.advance(1990);
  assert.equal(h.sup.currentUrl, 'fake://a/');
  await h.advance(20);
  assert.equal(h.sup.currentUrl, 'fake://b/');
  const down = h.events.find((e) => e.what === 'down')!;
  assert.deepEqual([down.url, down.code, down.t - t0], ['fake://a/', 'UPSTREAM_UNHEALTHY', 2000]);
  const why = h.logs.find((l) => l.indicator === 'pid_error' && l.next === 'fake://b/');
  assert.equal(why?.url, 'fake://a/', 'the log says why the switch happened');
  await h.advance(10);
  assert.deepEqual(h.sup.switchReason && [h.sup.switchReason.kind, h.sup.switchReason.from, h.sup.switchReason.detail], ['health', 'fake://a/', 'UPSTREAM_UNHEALTHY: pid_error raised for 2 s'], 'and so does the supervisor');
  // b breaks too: the switch skips a (its run ended in alarm) for c; when c breaks, every
  // other remote ended in alarm within reconnect: the stream stays, and says so.
  h.sup.healthAlarm('cc_error');
  await h.advance(2010);
  assert.equal(h.sup.currentUrl, 'fake://c/');
  h.sup.healthAlarm('pat_error');
  await h.advance(2010);
  assert.equal(h.sup.currentUrl, 'fake://c/');
  assert.ok(h.logs.some((l) => l.indicator === 'pat_error' && String(l.msg).includes('staying')));
  assert.deepEqual(h.opened.map((u) => u.url), ['fake://a/', 'fake://b/', 'fake://c/']);
  h.sup.close();
});
