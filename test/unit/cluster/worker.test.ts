// The worker process (src/cluster/worker.ts) as its primary sees it: a real worker process
// (test/fixtures/cluster/run-worker.ts, a stand-in configuration) driven by this test over
// the IPC channel and the data pipe; and the handed-over connections' HTTP timeouts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import net from 'node:net';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { ConfigSchema } from '../../../src/config/schema.js';
import { HttpFront } from '../../../src/http/server.js';
import { HandedConnections } from '../../../src/cluster/worker.js';
import { DATA_FD, ENV_API_SECRET, ENV_API_SOCKET, Frame, frameHeader, type PrimaryMessage, type WorkerMessage, type WorkerStreamCounters } from '../../../src/cluster/protocol.js';
import { until } from '../../helpers/wait.js';

cluster.setupPrimary({
  exec: join(import.meta.dirname, '..', '..', 'fixtures', 'cluster', 'run-worker.ts'),
  stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'],
});

const cleanups: (() => unknown)[] = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const cfg = ConfigSchema.parse({});

interface Child { worker: Worker; got: WorkerMessage[]; pipe: Writable; exit: Promise<number | null>; send(m: PrimaryMessage, handle?: net.Socket): void }

function fork(): Child {
  const worker = cluster.fork({ [ENV_API_SOCKET]: '/run/test.sock', [ENV_API_SECRET]: 'the-secret' });
  cleanups.push(() => { if (!worker.isDead()) worker.process.kill('SIGKILL'); });
  const got: WorkerMessage[] = [];
  worker.on('message', (m: WorkerMessage) => got.push(m));
  const exit = new Promise<number | null>((r) => worker.once('exit', (code) => r(code)));
  const pipe = worker.process.stdio[DATA_FD] as Writable;
  pipe.on('error', () => {});
  return { worker, got, pipe, exit, send: (m, handle) => { worker.send(m, handle); } };
}

const frame = (type: Frame, slot: number, payload: Buffer) => Buffer.concat([frameHeader(type, 0, slot, payload.length), payload]);

/** Ask for counters until `ok(counters)` holds (frames on the pipe and the IPC request race). */
async function countersUntil(c: Child, ok: (s: WorkerStreamCounters[]) => boolean, what: string): Promise<void> {
  let id = 0;
  await until(() => {
    const last = [...c.got].reverse().find((m) => m.t === 'counters' && m.id === id);
    if (last?.t === 'counters' && ok(last.streams)) return true;
    c.send({ t: 'collect', id: ++id });
    return false;
  }, 10_000, what, 50);
}

/** Hand a real TCP connection to the worker as the primary does; resolves with what the client got. */
async function handOver(c: Child, id: number, request: string): Promise<string> {
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => server.close());
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const chunks: Buffer[] = [];
  client.on('data', (d: Buffer) => chunks.push(d));
  const done = new Promise<void>((r) => client.once('close', () => r()));
  const socket = await accepted;
  c.send({ t: 'conn', id }, socket);
  await until(() => c.got.some((m) => m.t === 'conn-ack' && m.id === id), 10_000, 'conn-ack');
  socket.destroy(); // our copy; the worker has its own
  client.end(request);
  await done;
  return Buffer.concat(chunks).toString();
}

test('runWorker: hello, the primary\'s configuration, ready; data frames reach the stream of their slot, across a reload; shutdown exits 0', async () => {
  const c = fork();
  await until(() => c.got.some((m) => m.t === 'hello'), 20_000, 'hello');
  c.send({ t: 'config', cfg, slots: [3, 5], generation: 0 });
  await until(() => c.got.some((m) => m.t === 'ready'), 10_000, 'ready');
  assert.deepEqual(c.got.map((m) => m.t).slice(0, 3), ['hello', 'configured', 'ready']);
  c.pipe.write(Buffer.concat([
    frame(Frame.Data, 3, Buffer.alloc(376, 0x47)), frame(Frame.Data, 5, Buffer.alloc(188, 0x47)),
    frame(Frame.Data, 7, Buffer.alloc(188, 0x47)), frame(Frame.Lost, 3, Buffer.alloc(0)),
  ]));
  await countersUntil(c, (s) => s[3]?.packetsSent === 376 && s[3].packetsDropped === 2 && s[5]?.packetsSent === 188, 'frames counted by slot');
  // A reload: slot 5 stays (its stream kept), 3 is retired, 8 is new.
  c.send({ t: 'config', cfg, slots: [5, 8], generation: 1 });
  await until(() => c.got.some((m) => m.t === 'configured' && m.generation === 1), 10_000, 'reloaded');
  c.pipe.write(Buffer.concat([frame(Frame.Data, 3, Buffer.alloc(188, 0x47)), frame(Frame.Data, 5, Buffer.alloc(188, 0x47)), frame(Frame.Data, 8, Buffer.alloc(188, 0x47))]));
  await countersUntil(c, (s) => s[5]?.packetsSent === 376 && s[8]?.packetsSent === 188, 'frames after the reload');
  const last = [...c.got].reverse().find((m) => m.t === 'counters');
  assert.equal(last?.t === 'counters' && last.streams[3]?.packetsSent, 0, 'the retired slot gets nothing');
  // The heartbeat.
  c.send({ t: 'ping', seq: 42 });
  await until(() => c.got.some((m) => m.t === 'pong' && m.seq === 42), 10_000, 'pong');
  c.send({ t: 'shutdown' });
  assert.equal(await c.exit, 0);
});

test('runWorker: a handed-over connection is acknowledged and served; the API secret left the environment', async () => {
  const c = fork();
  await until(() => c.got.some((m) => m.t === 'hello'), 20_000, 'hello');
  // Before its configuration a worker refuses connections (the primary hands them on).
  const early = net.createServer();
  await new Promise<void>((r) => early.listen(0, '127.0.0.1', r));
  cleanups.push(() => early.close());
  const refusedSocket = net.connect((early.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r) => refusedSocket.once('connect', () => r()));
  c.send({ t: 'conn', id: 1 }, refusedSocket);
  await until(() => c.got.some((m) => m.t === 'conn-ack' && m.id === 1), 10_000, 'refusal');
  assert.deepEqual(c.got.find((m) => m.t === 'conn-ack'), { t: 'conn-ack', id: 1, ok: false });
  refusedSocket.destroy();
  c.send({ t: 'config', cfg, slots: [], generation: 0 });
  await until(() => c.got.some((m) => m.t === 'ready'), 10_000, 'ready');
  const answer = await handOver(c, 2, 'GET /link HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(answer, /^HTTP\/1\.1 200 OK/);
  assert.deepEqual(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)), { apiSocket: '/run/test.sock', apiSecret: 'the-secret', envSecret: null, generation: 0 });
  assert.deepEqual(c.got.find((m) => m.t === 'conn-ack' && m.id === 2), { t: 'conn-ack', id: 2, ok: true });
  // The primary gone (its data pipe closed): the worker exits on its own, without an error.
  c.pipe.end();
  assert.equal(await c.exit, 0);
});

test('runWorker: a reload the worker cannot apply stops it with exit code 1 (the primary starts a new one)', async () => {
  const c = fork();
  await until(() => c.got.some((m) => m.t === 'hello'), 20_000, 'hello');
  c.send({ t: 'config', cfg, slots: [0], generation: 0 });
  await until(() => c.got.some((m) => m.t === 'ready'), 10_000, 'ready');
  c.send({ t: 'config', cfg, slots: [0], generation: 99 });
  assert.equal(await c.exit, 1);
  assert.ok(!c.got.some((m) => m.t === 'configured' && m.generation === 99));
});

test('HandedConnections: a handed-over connection that sends its headers too slowly gets 408 within headersTimeout, as on a listening server', async () => {
  // Pins Node's private connection tracking that HandedConnections starts with 'listening':
  // without it no timeout applies to a connection the server did not accept itself.
  const HEADERS_MS = 1000;
  const front = new HttpFront(undefined, { headersTimeoutMs: HEADERS_MS });
  cleanups.push(() => front.close(0));
  const conns = new HandedConnections(front.server);
  const acceptor = net.createServer({ pauseOnConnect: true }, (s) => { conns.adopt(s); });
  await new Promise<void>((r) => acceptor.listen(0, '127.0.0.1', r));
  cleanups.push(() => acceptor.close());
  const client = net.connect((acceptor.address() as net.AddressInfo).port, '127.0.0.1');
  const chunks: Buffer[] = [];
  client.on('data', (d: Buffer) => chunks.push(d));
  client.on('error', () => {});
  const closed = new Promise<void>((r) => client.once('close', () => r()));
  client.write('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
  const t0 = Date.now();
  // Node checks every second (the front's connectionsCheckingInterval): at most 2 s here;
  // without the tracking the connection stays open and this times out.
  await Promise.race([closed, new Promise((_r, reject) => setTimeout(() => reject(new Error('still open after 5 s: headersTimeout not applied')), 5000).unref())]);
  assert.ok(Date.now() - t0 >= HEADERS_MS - 50);
  assert.match(Buffer.concat(chunks).toString('latin1'), /^HTTP\/1\.1 408 Request Timeout\r\n/);
  await conns.closed(1000);
});
