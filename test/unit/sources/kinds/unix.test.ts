// unix:// (stream sockets) against a real server in a temporary folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unixKind } from '../../../../src/sources/kinds/unix.js';
import type { RestreamerError } from '../../../../src/errors.js';
import { testContext } from '../../../helpers/datagram.js';

const payload = Buffer.from(Array.from({ length: 50_000 }, (_, i) => i % 251));
const tmp = mkdtempSync(join(tmpdir(), 'rs-unix-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function open(url: string) {
  const { ctx } = testContext(url);
  assert.equal(unixKind.validate!(ctx.url), undefined);
  const chunks: Buffer[] = [];
  const up = unixKind.open(ctx, (c) => { chunks.push(c); });
  return { up, bytes: () => Buffer.concat(chunks) };
}

test('unix: a stream socket delivers its bytes and ends cleanly', async () => {
  const path = join(tmp, 'up.sock');
  const server = net.createServer((sock) => sock.end(payload));
  await new Promise<void>((res) => server.listen(path, () => res()));
  try {
    const o = open(`unix://${path}`);
    await o.up.connected;
    assert.deepEqual(await o.up.ended, {});
    assert.ok(o.bytes().equals(payload));
  } finally {
    await new Promise((res) => server.close(res));
  }
});

test('unix: a path with a %-escaped space is decoded', async () => {
  const path = join(tmp, 'a b.sock');
  const server = net.createServer((sock) => sock.end(payload));
  await new Promise<void>((res) => server.listen(path, () => res()));
  try {
    const o = open(`unix://${path.replace(' ', '%20')}`);
    assert.deepEqual(await o.up.ended, {});
    assert.ok(o.bytes().equals(payload));
  } finally {
    await new Promise((res) => server.close(res));
  }
});

test('unix: no socket at the path is UPSTREAM_IO', async () => {
  const o = open(`unix://${join(tmp, 'nope.sock')}`);
  await assert.rejects(o.up.connected, (e: RestreamerError) => e.code === 'UPSTREAM_IO' && e.message.includes('ENOENT'));
});

test('unix: validation wants an absolute path and no host', () => {
  assert.match(unixKind.validate!(new URL('unix://run/enc.sock'))!, /absolute path: unix:\/\/\/path\/to\.sock \(got host "run"\)/);
  assert.match(unixKind.validate!(new URL('unix:///'))!, /needs a socket path/);
  assert.deepEqual(unixKind.schemes, ['unix']);
});
