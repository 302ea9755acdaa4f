// The primary's connection hand-off (multi-process mode), with real TCP connections on
// loopback and stand-in workers: a connection is never lost to a worker that cannot take
// it, and one that nobody takes is closed, never left hanging.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Handoff, ACK_MS, type HandoffTarget } from '../../../src/cluster/handoff.js';
import { until } from '../../helpers/wait.js';

interface Fake extends HandoffTarget {
  got: { id: number; socket: net.Socket; tls: boolean }[];
  ok: boolean;
  alive: boolean;
  failNext: number;
}

function fake(id: number): Fake {
  const t: Fake = {
    id, pending: 0, got: [], ok: true, alive: true, failNext: 0,
    routable: () => t.ok,
    fresh: () => t.alive,
    send: (cid, socket, done, tls) => {
      if (t.failNext > 0) { t.failNext--; process.nextTick(done, new Error('EPIPE')); return; }
      t.got.push({ id: cid, socket, tls });
      process.nextTick(done, null);
    },
  };
  return t;
}

const handoffs: Handoff[] = [];
after(() => { for (const h of handoffs) h.close(); });

async function setup(targets: Fake[]): Promise<{ h: Handoff; port: number }> {
  const h = new Handoff(() => targets);
  handoffs.push(h);
  const addr = await h.listen('127.0.0.1', 0);
  return { h, port: addr.port };
}

/** A client connection; `closed` resolves when the server side ends or resets it. */
function client(port: number): { sock: net.Socket; closed: Promise<void> } {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => {});
  const closed = new Promise<void>((r) => { sock.on('end', r); sock.on('close', () => r()); });
  sock.resume();
  return { sock, closed };
}

test('connections go to the worker with the fewest unacknowledged ones, round robin among equals', async () => {
  const a = fake(1); const b = fake(2);
  const { h, port } = await setup([a, b]);
  const cs = [client(port), client(port)];
  await until(() => a.got.length + b.got.length === 2, 5000, 'two hand-offs');
  // One assertion for both: assert.equal on each length would narrow its type to 1 for the rest of the test.
  assert.deepEqual([a.got.length, b.got.length], [1, 1]);
  // b acknowledges; a does not: the next one goes to b.
  h.acked(b.got[0]!.id, true);
  const more = [client(port)];
  await until(() => a.got.length + b.got.length === 3, 5000, 'one more');
  assert.equal(b.got.length, 2, 'b had no unacknowledged connection left, a had one');
  // Equal again (one each): the next ones alternate.
  more.push(client(port));
  await until(() => a.got.length + b.got.length === 4, 5000, 'one more');
  more.push(client(port));
  await until(() => a.got.length + b.got.length === 5, 5000, 'one more');
  assert.ok(Math.min(a.got.length, b.got.length) >= 2, `both used (${a.got.length}, ${b.got.length})`);
  for (const c of [...cs, ...more]) c.sock.destroy();
});

test('a worker silent for a while gets connections only when no other one can take them', async () => {
  const a = fake(1); const b = fake(2);
  a.alive = false;
  const { h, port } = await setup([a, b]);
  const cs = [client(port), client(port), client(port)];
  await until(() => b.got.length === 3, 5000, 'three hand-offs to b');
  assert.equal(a.got.length, 0);
  b.ok = false;
  const last = client(port);
  await until(() => a.got.length === 1, 5000, 'a hand-off to a');
  for (const x of b.got) h.acked(x.id, true);
  for (const c of [...cs, last]) c.sock.destroy();
});

test('a failed send (the worker just died) hands the connection to another worker', async () => {
  const a = fake(1); const b = fake(2);
  a.failNext = 1; b.failNext = 1;
  const { port } = await setup([a, b]);
  const c = client(port);
  await until(() => a.got.length + b.got.length === 1, 5000, 'a successful hand-off');
  assert.equal(a.pending + b.pending, 1, 'counted once, on the worker that got it');
  c.sock.destroy();
});

test('after three failed sends the connection is closed: the client sees the close', async () => {
  const a = fake(1);
  a.failNext = 3;
  const { h, port } = await setup([a]);
  const c = client(port);
  await c.closed;
  assert.equal(a.got.length, 0);
  assert.equal(a.pending, 0);
  assert.equal(h.dropped, 1);
});

test('a worker that exits before acknowledging: its connections go to another worker', async () => {
  const a = fake(1); const b = fake(2);
  b.ok = false;
  const { h, port } = await setup([a, b]);
  const cs = [client(port), client(port)];
  await until(() => a.got.length === 2, 5000, 'two hand-offs to a');
  a.ok = false; b.ok = true;
  h.targetGone(a);
  assert.equal(a.pending, 0);
  assert.equal(b.got.length, 2, 'both handed on');
  // A late acknowledgement from the dead worker changes nothing.
  h.acked(a.got[0]!.id, true);
  assert.equal(b.pending, 2);
  for (const c of cs) c.sock.destroy();
});

test('a refusal (ok: false) hands the connection on', async () => {
  const a = fake(1); const b = fake(2);
  const { h, port } = await setup([a, b]);
  const c = client(port);
  await until(() => a.got.length + b.got.length === 1, 5000, 'a hand-off');
  const [first, other] = a.got.length === 1 ? [a, b] : [b, a];
  h.acked(first.got[0]!.id, false);
  assert.equal(other.got.length, 1);
  assert.equal(first.pending, 0);
  c.sock.destroy();
});

test('with no worker ready, connections wait and go when one is', async () => {
  const a = fake(1);
  a.ok = false;
  const { h, port } = await setup([a]);
  // The hand-off's own listener runs first: by this one, the connection was dispatched.
  const accepted = new Promise((r) => h.server.once('connection', r));
  const c = client(port);
  await accepted;
  assert.equal(a.got.length, 0);
  a.ok = true;
  h.flush();
  assert.equal(a.got.length, 1);
  c.sock.destroy();
});

test('sweep: a connection a live worker has not acknowledged in time is closed; one of a dying worker waits for its exit', async () => {
  const a = fake(1); const b = fake(2);
  const { h, port } = await setup([a, b]);
  const cs = [client(port), client(port)];
  await until(() => a.got.length === 1 && b.got.length === 1, 5000, 'one hand-off each');
  h.sweep(Date.now() + ACK_MS + 1, (t) => t === b);
  // a's connection is shut down (the client sees it), b's is still held (b is being killed).
  const aClient = cs.find((c) => c.sock.localPort === a.got[0]!.socket.remotePort)!;
  await aClient.closed;
  assert.equal(a.pending, 0);
  assert.equal(b.pending, 1);
  assert.equal(b.got[0]!.socket.destroyed, false);
  h.targetGone(b);
  assert.equal(a.got.length, 2, "b's connection went to a when b exited");
  for (const c of cs) c.sock.destroy();
});

test('the HTTPS listener\'s connections go out marked tls, with the same ids, acknowledgements and hand-on as plain ones', async () => {
  const a = fake(1); const b = fake(2);
  const { h, port } = await setup([a, b]);
  const tlsPort = (await h.listen('127.0.0.1', 0, true)).port;
  const cs = [client(port), client(tlsPort)];
  await until(() => a.got.length + b.got.length === 2, 5000, 'two hand-offs');
  const got = [...a.got, ...b.got].sort((x, y) => x.id - y.id);
  assert.deepEqual(got.map((g) => g.tls), [false, true]);
  // Refused by its worker: handed on (under a new id), still marked tls.
  const tlsOne = got[1]!;
  h.acked(tlsOne.id, false);
  await until(() => [...a.got, ...b.got].some((g) => g.tls && g.id !== tlsOne.id), 5000, 'handed on');
  const again = [...a.got, ...b.got].find((g) => g.tls && g.id !== tlsOne.id)!;
  assert.equal(again.socket, tlsOne.socket, 'the same connection');
  h.close();
  await Promise.all(cs.map((c) => c.closed));
});
