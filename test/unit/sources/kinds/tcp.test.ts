// tcp:// against a real server on loopback (the connection itself: ../socket.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { tcpKind } from '../../../../src/sources/kinds/tcp.js';
import type { RestreamerError } from '../../../../src/errors.js';
import { testContext } from '../../../helpers/datagram.js';

const payload = Buffer.from(Array.from({ length: 50_000 }, (_, i) => i % 251));

function open(url: string) {
  const { ctx } = testContext(url);
  assert.equal(tcpKind.validate!(ctx.url), undefined);
  const chunks: Buffer[] = [];
  const up = tcpKind.open(ctx, (c) => { chunks.push(c); });
  return { up, bytes: () => Buffer.concat(chunks) };
}

function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, host, () => res((server.address() as net.AddressInfo).port));
  });
}

const close = (s: net.Server): Promise<void> => new Promise((res) => s.close(() => res()));

/** A server that sends `payload` to each connection and ends it. */
async function sender(host?: string): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((sock) => sock.end(payload));
  return { server, port: await listen(server, host) };
}

test('tcp: IPv4 connect, data, clean end', async () => {
  const { server, port } = await sender();
  try {
    const o = open(`tcp://127.0.0.1:${port}`);
    await o.up.connected;
    assert.deepEqual(await o.up.ended, {});
    assert.ok(o.bytes().equals(payload));
  } finally {
    await close(server);
  }
});

test('tcp: IPv6 [::1] (brackets removed for the connect)', async (t) => {
  let s: { server: net.Server; port: number };
  try { s = await sender('::1'); } catch { t.skip('::1 not available'); return; }
  try {
    const o = open(`tcp://[::1]:${s.port}`);
    await o.up.connected;
    assert.deepEqual(await o.up.ended, {});
    assert.ok(o.bytes().equals(payload));
  } finally {
    await close(s.server);
  }
});

test('tcp: refused port rejects with UPSTREAM_REFUSED naming the address', async () => {
  const { server, port } = await sender();
  await close(server);
  const o = open(`tcp://127.0.0.1:${port}`);
  await assert.rejects(o.up.connected, (e: RestreamerError) => e.code === 'UPSTREAM_REFUSED' && e.message.includes(`tcp 127.0.0.1:${port}`));
  assert.equal((await o.up.ended).error?.code, 'UPSTREAM_REFUSED');
});

test('tcp: close() closes the socket (server sees the end), idempotent', async () => {
  const server = net.createServer();
  const gone = new Promise<void>((res) => server.on('connection', (s) => {
    s.write(payload);
    s.on('error', () => {});
    s.on('close', () => res());
  }));
  const port = await listen(server);
  try {
    const o = open(`tcp://127.0.0.1:${port}`);
    await o.up.connected;
    o.up.close();
    o.up.close();
    await gone;
    assert.deepEqual(await o.up.ended, {});
  } finally {
    await close(server);
  }
});

test('tcp: validation wants host and port', () => {
  assert.match(tcpKind.validate!(new URL('tcp://127.0.0.1'))!, /needs a port/);
  assert.match(tcpKind.validate!(new URL('tcp:///x'))!, /needs a host/);
  assert.equal(tcpKind.validate!(new URL('tcp://[::1]:5000')), undefined);
  assert.equal(tcpKind.validate!(new URL('tcp://encoder.local:5000')), undefined);
});
