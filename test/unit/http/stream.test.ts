// The stream endpoint in-process: a real StreamHub fed with packets, the endpoint on a real
// node:http server on port 0, real HTTP clients reading what it sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { StreamHub } from '../../../src/hub/hub.js';
import { StreamEndpoint, type AdmittedClient } from '../../../src/http/stream.js';
import type { AdmissionGate, StreamState } from '../../../src/stream/contracts.js';
import { requireAuth, withAccessLog } from '../../../src/http/access.js';
import type { Logger } from '../../../src/log/logger.js';
import type { Authorizer } from '../../../src/auth/auth.js';
import { makeStream, seqs, PKT } from '../../helpers/packets.js';
import { capturedLogger, request, serve, type Handler, type LogLine } from '../../helpers/inproc.js';
import { until } from '../../helpers/wait.js';

/** A stream whose state the test sets; counts viewers. */
class TestStream implements StreamState {
  readonly name = 'test';
  readonly hub = new StreamHub({ outputBufferPackets: 1000, batchMs: 10_000, start: 'live' });
  available = true;
  ondemand = false;
  viewers = 0;
  joined = 0;
  demandAnswer: Promise<boolean> = Promise.resolve(true);
  demand(): Promise<boolean> { return this.demandAnswer; }
  viewerJoined(): void { this.viewers++; this.joined++; }
  viewerLeft(): void { this.viewers--; }
  private seq = 0;
  /** `n` more packets, numbered on from the last, offered to every client at once. */
  feed(n: number): void {
    this.hub.push(makeStream(n, 0x100, this.seq), 0, n);
    this.seq += n;
    this.hub.flush();
  }
}

/** A hard limit of `max`; `answer` overrides acquire() (e.g. a promise, as in multi-process mode). */
class Gate implements AdmissionGate {
  held = 0;
  answer: (() => boolean | Promise<boolean>) | undefined;
  constructor(private readonly max = 100) {}
  acquire(): boolean | Promise<boolean> {
    if (this.answer) return this.answer();
    if (this.held >= this.max) return false;
    this.held++;
    return true;
  }
  release(): void { this.held--; }
}

interface Setup {
  stream: TestStream; gate: Gate; lines: LogLine[]; base: string; endpoint: StreamEndpoint;
  admitted: AdmittedClient[]; close(): Promise<void>;
}

async function setup(o: { preamble?: Buffer; wrap?: (h: Handler, log: Logger) => Handler; route?: (h: Handler) => Handler; max?: number } = {}): Promise<Setup> {
  const stream = new TestStream();
  const gate = new Gate(o.max);
  const { log, lines } = capturedLogger();
  const admitted: AdmittedClient[] = [];
  const endpoint = new StreamEndpoint({
    stream, admission: gate, log, preamble: o.preamble,
    onClient: (c) => { admitted.push(c); return () => { admitted.splice(admitted.indexOf(c), 1); }; },
  });
  let h: Handler = (req, res) => endpoint.handle(req, res);
  if (o.wrap) h = o.wrap(h, log);
  if (o.route) h = o.route(h);
  const served = await serve(h);
  return {
    stream, gate, lines, base: served.base, endpoint, admitted,
    close: async () => { stream.hub.close(); await served.close(); },
  };
}

/** A viewer on its own connection: the response, and every body byte so far. */
interface Viewer { res: http.IncomingMessage; body: () => Buffer; ended: Promise<void>; destroy(): void }

function view(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<Viewer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const ended = new Promise<void>((done) => { res.once('end', done); res.once('close', done); });
      resolve({ res, body: () => Buffer.concat(chunks), ended, destroy: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

const seqRange = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

test('GET: 200 with the original\'s headers, chunked over HTTP/1.1, every packet fed after joining, in order', async () => {
  const s = await setup();
  try {
    const v = await view(`${s.base}/`);
    assert.equal(v.res.statusCode, 200);
    assert.equal(v.res.headers['content-type'], 'video/mpeg');
    assert.equal(v.res.headers['cache-control'], 'no-cache,no-store,no-transform');
    assert.equal(v.res.headers['accept-ranges'], 'none');
    assert.equal(v.res.headers['accept-range'], 'none');
    assert.equal(v.res.headers['transfer-encoding'], 'chunked');
    assert.ok(!Number.isNaN(Date.parse(v.res.headers['last-modified'] ?? '')), 'Last-Modified is a date');
    assert.equal(s.stream.hub.clientCount, 1);
    assert.equal(s.stream.viewers, 1);
    assert.equal(s.gate.held, 1);
    s.stream.feed(10);
    s.stream.feed(25);
    await until(() => v.body().length >= 35 * PKT, 10_000, '35 packets');
    assert.deepEqual(seqs(v.body()), seqRange(0, 35));
    const connect = s.lines.find((l) => l.evt === 'client_connect');
    assert.ok(connect, 'client_connect logged');
    assert.equal(connect.stream, 'test');
    assert.equal(connect.remote, '127.0.0.1');
    assert.equal(s.admitted.length, 1);
    assert.equal(s.admitted[0]!.stream, 'test');
    assert.equal(s.admitted[0]!.client.packetsSent, 35);
  } finally { await s.close(); }
});

test('a viewer that leaves: the hub forgets it, the slot and the viewer count are given back, the disconnect is logged with its counters', async () => {
  const s = await setup();
  try {
    const v = await view(`${s.base}/`);
    s.stream.feed(20);
    await until(() => v.body().length >= 20 * PKT, 10_000, '20 packets');
    v.destroy();
    await until(() => s.lines.some((l) => l.evt === 'client_disconnect'), 10_000, 'client_disconnect');
    assert.equal(s.stream.hub.clientCount, 0);
    assert.equal(s.stream.viewers, 0);
    assert.equal(s.gate.held, 0);
    assert.equal(s.admitted.length, 0, 'onClient\'s forget called');
    const d = s.lines.find((l) => l.evt === 'client_disconnect')!;
    assert.equal(d.reason, 'closed');
    assert.equal(d.packetsSent, 20);
    assert.equal(d.bytes, 20 * PKT);
    assert.equal(d.packetsDropped, 0);
    assert.equal(d.client, s.lines.find((l) => l.evt === 'client_connect')!.client);
    // Packets fed after it left go nowhere (and nothing throws).
    s.stream.feed(5);
    assert.equal(s.stream.hub.packetsSent, 20);
  } finally { await s.close(); }
});

test('the hub ends the stream (offline, upstream lost): the response ends cleanly with the packets before it', async () => {
  const s = await setup();
  try {
    const v = await view(`${s.base}/`);
    s.stream.feed(7);
    s.stream.hub.endAll('offline');
    await v.ended;
    assert.equal(v.res.complete, true, 'a complete chunked response (last chunk received)');
    assert.deepEqual(seqs(v.body()), seqRange(0, 7));
    await until(() => s.lines.some((l) => l.evt === 'client_disconnect'), 10_000, 'client_disconnect');
    assert.equal(s.lines.find((l) => l.evt === 'client_disconnect')!.reason, 'offline');
    assert.equal(s.gate.held, 0);
  } finally { await s.close(); }
});

test('an operator kick (onClient end()) closes the connection and is logged as "kicked"', async () => {
  const s = await setup();
  try {
    const v = await view(`${s.base}/`);
    s.stream.feed(3);
    await until(() => v.body().length >= 3 * PKT, 10_000, '3 packets');
    s.admitted[0]!.end();
    await v.ended;
    assert.equal(v.res.complete, false, 'cut off, not ended');
    await until(() => s.lines.some((l) => l.evt === 'client_disconnect'), 10_000, 'client_disconnect');
    assert.equal(s.lines.find((l) => l.evt === 'client_disconnect')!.reason, 'kicked');
    assert.equal(s.stream.hub.clientCount, 0);
  } finally { await s.close(); }
});

test('the preamble is sent right after the headers, before any packet', async () => {
  const preamble = Buffer.from('PREAMBLE-BYTES');
  const s = await setup({ preamble });
  try {
    const v = await view(`${s.base}/`);
    s.stream.feed(4);
    await until(() => v.body().length >= preamble.length + 4 * PKT, 10_000, 'preamble and 4 packets');
    assert.deepEqual(v.body().subarray(0, preamble.length), preamble);
    assert.deepEqual(seqs(v.body().subarray(preamble.length)), seqRange(0, 4));
  } finally { await s.close(); }
});

test('HEAD: 200 with the stream headers and no body; nobody joins the hub', async () => {
  const s = await setup();
  try {
    const a = await request(`${s.base}/`, { method: 'HEAD' });
    assert.equal(a.status, 200);
    assert.equal(a.headers['content-type'], 'video/mpeg');
    assert.equal(a.body.length, 0);
    assert.equal(s.stream.joined, 0);
    assert.equal(s.gate.held, 0);
  } finally { await s.close(); }
});

test('other methods: 405 with Allow: GET, HEAD', async () => {
  const s = await setup();
  try {
    const a = await request(`${s.base}/`, { method: 'POST' }, 'x');
    assert.equal(a.status, 405);
    assert.equal(a.headers.allow, 'GET, HEAD');
    assert.equal(a.body.length, 0);
    assert.equal(s.stream.joined, 0);
  } finally { await s.close(); }
});

test('offline stream: 404 with the stream headers and an empty body, logged as rejected with STREAM_OFFLINE', async () => {
  const s = await setup();
  try {
    s.stream.available = false;
    const a = await request(`${s.base}/`);
    assert.equal(a.status, 404);
    assert.equal(a.headers['content-type'], 'video/mpeg');
    assert.equal(a.headers['content-length'], '0');
    assert.equal(a.body.length, 0);
    // Logged with its catalogue code (docs/errors.md), at the default level (info): an
    // operator asks why a client got 404.
    const rejected = s.lines.filter((l) => l.evt === 'client_rejected');
    assert.equal(rejected.length, 1, JSON.stringify(s.lines));
    assert.deepEqual([rejected[0]!.level, rejected[0]!.reason, rejected[0]!.code, rejected[0]!.stream, rejected[0]!.remote], [30, 'offline', 'STREAM_OFFLINE', 'test', '127.0.0.1']);
    assert.equal(typeof rejected[0]!.port, 'number');
    assert.equal(s.stream.joined, 0);
  } finally { await s.close(); }
});

test('rejections: one info line each, until one address floods; its further rejections are counted, not logged one by one', async () => {
  const s = await setup();
  try {
    s.stream.available = false;
    for (let i = 0; i < 6; i++) assert.equal((await request(`${s.base}/`, { headers: { 'user-agent': 'tv/1' } })).status, 404);
    const rejected = s.lines.filter((l) => l.evt === 'client_rejected');
    assert.equal(rejected.length, 3, 'a few lines show the pattern; the rest go into the periodic summary (log/faults.ts RepeatLog)');
    assert.ok(rejected.every((l) => l.level === 30 && l.remote === '127.0.0.1' && l.ua === 'tv/1'));
  } finally { await s.close(); }
});

test('connection limit: the next viewer gets 404 and is logged as rejected for the limit (LIMIT_REACHED); a slot freed admits again', async () => {
  const s = await setup({ max: 1 });
  try {
    const first = await view(`${s.base}/`);
    assert.equal(first.res.statusCode, 200);
    const second = await request(`${s.base}/`);
    assert.equal(second.status, 404);
    assert.equal(second.headers['content-type'], 'video/mpeg');
    assert.equal(second.body.length, 0);
    assert.ok(s.lines.some((l) => l.evt === 'client_rejected' && l.reason === 'limit' && l.code === 'LIMIT_REACHED' && l.level === 30));
    first.destroy();
    await until(() => s.gate.held === 0, 10_000, 'the slot released');
    const third = await view(`${s.base}/`);
    assert.equal(third.res.statusCode, 200);
    third.destroy();
  } finally { await s.close(); }
});

test('an admission answered later (multi-process mode): granted serves, refused gives 404', async () => {
  const s = await setup();
  try {
    let grant: ((ok: boolean) => void) | undefined;
    s.gate.answer = () => new Promise<boolean>((r) => { grant = r; });
    const pending = view(`${s.base}/`);
    await until(() => grant !== undefined, 10_000, 'acquire() called');
    grant!(true);
    const v = await pending;
    assert.equal(v.res.statusCode, 200);
    s.stream.feed(2);
    await until(() => v.body().length >= 2 * PKT, 10_000, '2 packets');
    v.destroy();
    await until(() => s.stream.viewers === 0, 10_000, 'viewer left');

    s.gate.answer = () => Promise.resolve(false);
    const refused = await request(`${s.base}/`);
    assert.equal(refused.status, 404);
  } finally { await s.close(); }
});

test('on-demand stream: the request waits for the upstream; delivered serves, not delivered gives 404', async () => {
  const s = await setup();
  try {
    s.stream.available = false;
    s.stream.ondemand = true;
    let deliver: ((ok: boolean) => void) | undefined;
    s.stream.demandAnswer = new Promise<boolean>((r) => { deliver = r; });
    const pending = view(`${s.base}/`);
    await until(() => deliver !== undefined, 10_000, 'demand() promise');
    s.stream.available = true;
    deliver!(true);
    const v = await pending;
    assert.equal(v.res.statusCode, 200);
    v.destroy();
    await until(() => s.stream.viewers === 0, 10_000, 'viewer left');

    s.stream.available = false;
    s.stream.demandAnswer = Promise.resolve(false);
    const a = await request(`${s.base}/`);
    assert.equal(a.status, 404);
  } finally { await s.close(); }
});

/** Reads raw bytes from a socket until `done(all)` holds. */
function readUntil(sock: net.Socket, done: (all: Buffer) => boolean, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let all = Buffer.alloc(0);
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(all.toString('latin1').slice(0, 400))}`)), 10_000);
    const onData = (c: Buffer) => {
      all = Buffer.concat([all, c]);
      if (done(all)) { clearTimeout(timer); sock.off('data', onData); resolve(all); }
    };
    sock.on('data', onData);
    sock.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

/** Splits a chunked body; throws on a malformed frame. Returns the data and whether the last chunk came. */
function dechunk(buf: Buffer): { data: Buffer; last: boolean; rest: Buffer } {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', pos, 'latin1');
    if (eol < 0) return { data: Buffer.concat(parts), last: false, rest: buf.subarray(pos) };
    const sizeText = buf.toString('latin1', pos, eol);
    if (!/^[0-9a-f]+$/i.test(sizeText)) throw new Error(`bad chunk size ${JSON.stringify(sizeText.slice(0, 40))} at ${pos}`);
    const size = parseInt(sizeText, 16);
    if (buf.length < eol + 2 + size + 2) return { data: Buffer.concat(parts), last: false, rest: buf.subarray(pos) };
    if (buf.toString('latin1', eol + 2 + size, eol + 4 + size) !== '\r\n') throw new Error(`chunk at ${pos} not followed by CRLF`);
    if (size === 0) return { data: Buffer.concat(parts), last: true, rest: buf.subarray(eol + 4) };
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    pos = eol + 4 + size;
  }
}

test('HTTP/1.0 viewer: the same packets unframed (no chunked coding), ended by closing', async () => {
  const s = await setup();
  const sock = net.connect(Number(new URL(s.base).port), '127.0.0.1');
  try {
    sock.write('GET / HTTP/1.0\r\n\r\n');
    await until(() => s.stream.viewers === 1, 10_000, 'the viewer admitted');
    s.stream.feed(12);
    const all = await readUntil(sock, (b) => { const h = b.indexOf('\r\n\r\n'); return h >= 0 && b.length - h - 4 >= 12 * PKT; }, 'headers and 12 packets');
    const head = all.toString('latin1', 0, all.indexOf('\r\n\r\n'));
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(head, /transfer-encoding/i);
    assert.deepEqual(seqs(all.subarray(all.indexOf('\r\n\r\n') + 4)), seqRange(0, 12));
  } finally { sock.destroy(); await s.close(); }
});

test('a stream request pipelined behind a slower answer is queued by Node: its bytes follow that answer, correctly framed', async () => {
  // The first request on the connection is held until the stream request behind it has been
  // admitted and fed. Meanwhile the stream response does not own the connection: anything
  // written straight to the socket would land inside the first answer.
  let releaseFirst: (() => void) | undefined;
  const s = await setup({
    route: (stream) => (req, res) => {
      if (req.url === '/first') {
        releaseFirst = () => res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '5' }).end('first');
        return;
      }
      stream(req, res);
    },
  });
  const sock = net.connect(Number(new URL(s.base).port), '127.0.0.1');
  try {
    sock.write('GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => s.stream.viewers === 1 && releaseFirst !== undefined, 10_000, 'both requests handled');
    s.stream.feed(6);
    s.stream.feed(4);
    releaseFirst!();
    s.stream.feed(5);
    const all = await readUntil(sock, (b) => {
      const second = b.indexOf('HTTP/1.1 200', 10, 'latin1');
      if (second < 0) return false;
      const h = b.indexOf('\r\n\r\n', second, 'latin1');
      try { return h >= 0 && dechunk(b.subarray(h + 4)).data.length >= 15 * PKT; } catch { return true; }
    }, 'both answers');
    const firstEnd = all.indexOf('\r\n\r\n', 0, 'latin1') + 4;
    assert.match(all.toString('latin1', 0, firstEnd), /^HTTP\/1\.1 200 OK\r\n[\s\S]*Content-Length: 5\r\n/);
    assert.equal(all.toString('latin1', firstEnd, firstEnd + 5), 'first');
    const second = all.subarray(firstEnd + 5);
    const h = second.indexOf('\r\n\r\n', 0, 'latin1');
    assert.match(second.toString('latin1', 0, h), /^HTTP\/1\.1 200 OK\r\n[\s\S]*Transfer-Encoding: chunked/i);
    assert.deepEqual(seqs(dechunk(second.subarray(h + 4)).data), seqRange(0, 15));
  } finally { sock.destroy(); await s.close(); }
});

const bearer: Authorizer = (header) => (header === 'Bearer good' ? { ok: true, user: 'alice' } : { ok: false, status: 403, headers: {} });

test('with authentication and the access log around it: the admitted client\'s counters and user are in the access line', async () => {
  const s = await setup({ wrap: (h, log) => withAccessLog(requireAuth(h, bearer), { log }) });
  try {
    const v = await view(`${s.base}/live`, { authorization: 'Bearer good' });
    assert.equal(v.res.statusCode, 200);
    assert.equal(s.admitted[0]!.user, 'alice', 'the status page learns the user');
    s.stream.feed(9);
    await until(() => v.body().length >= 9 * PKT, 10_000, '9 packets');
    v.destroy();
    await until(() => s.lines.some((l) => l.evt === 'access'), 10_000, 'the access line');
    const a = s.lines.find((l) => l.evt === 'access')!;
    assert.equal(a.path, '/live');
    assert.equal(a.status, 200);
    assert.equal(a.user, 'alice');
    assert.equal(a.packetsSent, 9);
    assert.equal(a.packetsDropped, 0);
    assert.equal(a.aborted, true);

    const denied = await request(`${s.base}/live`, { headers: { authorization: 'Bearer bad' } });
    assert.equal(denied.status, 403);
    await until(() => s.lines.filter((l) => l.evt === 'access').length === 2, 10_000, 'the second access line');
    const d = s.lines.filter((l) => l.evt === 'access')[1]!;
    assert.equal(d.status, 403);
    assert.equal(d.user, undefined);
    assert.equal(d.packetsSent, undefined, 'no client was admitted');
  } finally { await s.close(); }
});
