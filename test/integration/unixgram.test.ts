import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Nus from 'node-unix-socket';
import { unixgramKind, unixpacketKind } from '../../src/sources/kinds/unixgram.js';
import { unixKind } from '../../src/sources/kinds/unix.js';
import type { RestreamerError } from '../../src/errors.js';
import { makeStream, seqs, PKT } from '../helpers/packets.js';
import { testContext } from '../helpers/datagram.js';
import { until } from '../helpers/wait.js';

// unixgram:// and unixpacket:// through node-unix-socket, with real sockets in a temp dir.

const nus = createRequire(import.meta.url)('node-unix-socket') as typeof Nus;

function tmp(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'rs-unixgram-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

function sendTo(s: Nus.DgramSocket, buf: Buffer, path: string): Promise<void> {
  return new Promise((res, rej) => s.sendTo(buf, 0, buf.length, path, (e) => (e ? rej(e) : res())));
}

test('unixgram: binds the path, receives datagrams whole and in order, drops oversized ones, removes the file on close', async () => {
  const { dir, done } = tmp();
  const path = join(dir, 'in.sock');
  const { ctx, lines } = testContext(`unixgram://${path}`, { mru: 1500 });
  const got: Buffer[] = [];
  const up = unixgramKind.open(ctx, (b) => got.push(b)) as ReturnType<typeof unixgramKind.open> & { ready: Promise<void>; stats: { datagrams: number; oversize: number; recvBufferBytes: number } };
  const s = new nus.DgramSocket();
  try {
    await up.ready;
    // Bound is not connected: that takes a datagram.
    let connected = false;
    void up.connected.then(() => { connected = true; });
    await new Promise((r) => setImmediate(r));
    assert.equal(connected, false);
    assert.ok(existsSync(path));
    assert.ok(up.stats.recvBufferBytes >= 1000 * PKT);
    for (let i = 0; i < 8; i++) {
      await sendTo(s, makeStream(7, 0x100, i * 7), path);
      if (i === 2) await sendTo(s, Buffer.alloc(4000, 0x47), path);
    }
    await until(() => up.stats.datagrams === 9, 3000, '9 datagrams');
    assert.deepEqual(seqs(Buffer.concat(got)), Array.from({ length: 56 }, (_, i) => i));
    assert.equal(up.stats.oversize, 1);
    assert.ok(lines.some((l) => l.evt === 'upstream_faults' && l.first === 'oversize'));
  } finally {
    s.close();
    up.close();
  }
  assert.deepEqual(await up.ended, {});
  assert.ok(!existsSync(path), 'socket file removed on close');
  done();
});

test('unixgram: a stale socket file is replaced; one bound by a live process is an error', async () => {
  const { dir, done } = tmp();
  const path = join(dir, 'in.sock');
  try {
    // Stale: bound and closed without unlinking, as after a crash.
    const old = new nus.DgramSocket();
    old.bind(path);
    old.close();
    assert.ok(existsSync(path));
    const a = testContext(`unixgram://${path}`);
    const up = unixgramKind.open(a.ctx, () => {}) as ReturnType<typeof unixgramKind.open> & { ready: Promise<void> };
    await up.ready;
    assert.ok(a.lines.some((l) => String(l.msg).includes('stale socket')));
    // Now `up` holds it: a second receiver must not steal it.
    const b = testContext(`unixgram://${path}`);
    const up2 = unixgramKind.open(b.ctx, () => {});
    await assert.rejects(up2.connected, (e: RestreamerError) => e.message.includes('another process has bound'));
    assert.ok(existsSync(path), 'the live socket was left alone');
    up.close();
    await up.ended;
    // A regular file at the path is not a socket: bind fails, the file is not removed.
    writeFileSync(path, 'not a socket');
    const c = testContext(`unixgram://${path}`);
    const up3 = unixgramKind.open(c.ctx, () => {});
    await assert.rejects(up3.connected, (e: RestreamerError) => e.message.includes('Address already in use'));
    assert.ok(existsSync(path));
  } finally {
    done();
  }
});

test('unixpacket: connects to a SOCK_SEQPACKET server, keeps message boundaries, ends when the server ends', async () => {
  const { dir, done } = tmp();
  const path = join(dir, 'pkt.sock');
  const server = new nus.SeqpacketServer();
  server.listen(path);
  server.on('connection', (c: Nus.SeqpacketSocket) => {
    for (let i = 0; i < 5; i++) c.write(makeStream(7, 0x100, i * 7));
    c.write(Buffer.alloc(3000, 0x47)); // larger than mru
    c.write(makeStream(7, 0x100, 35));
    setTimeout(() => c.end(), 50);
  });
  try {
    const { ctx } = testContext(`unixpacket://${path}`, { mru: 1500 });
    const got: Buffer[] = [];
    const up = unixpacketKind.open(ctx, (b) => got.push(b)) as ReturnType<typeof unixpacketKind.open> & { stats: { oversize: number } };
    await up.connected;
    assert.deepEqual(await up.ended, {});
    assert.ok(got.every((b) => b.length === 7 * PKT));
    assert.deepEqual(seqs(Buffer.concat(got)), Array.from({ length: 42 }, (_, i) => i));
    assert.equal(up.stats.oversize, 1);
  } finally {
    server.close();
    done();
  }
});

test('unixpacket: no server at the path is a clear error', async () => {
  const { ctx } = testContext('unixpacket:///nonexistent-dir-rs/pkt.sock');
  const up = unixpacketKind.open(ctx, () => {});
  await assert.rejects(up.connected, (e: RestreamerError) => /unixpacket connect .*No such file/.test(e.message));
});

test('unixgram/unixpacket URL validation; unix:// stays the stream socket kind', () => {
  assert.equal(unixgramKind.validate!(new URL('unixgram:///run/enc.sock')), undefined);
  assert.equal(unixpacketKind.validate!(new URL('unixpacket:///run/enc.sock')), undefined);
  assert.match(unixgramKind.validate!(new URL('unixgram://run/enc.sock'))!, /absolute path/);
  assert.match(unixpacketKind.validate!(new URL('unixpacket:///'))!, /needs a socket path/);
  assert.deepEqual(unixKind.schemes, ['unix']);
});
