// What every upstream kind shares: the resolved settings it reads, and the two kinds of
// upstream (a transport connection, a datagram receiver) the supervisor tells apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sourceOptions, type Upstream } from '../../../src/sources/source.js';
import { UpstreamBase } from '../../../src/sources/base.js';

test('sourceOptions: the resource settings the kinds read; an empty clientinterface means the system\'s choice', () => {
  assert.deepEqual(sourceOptions({ mru: 1500, clientinterface: '', rtpreorder: 8 }), { mru: 1500, clientInterface: undefined, rtpReorder: 8 });
  assert.deepEqual(sourceOptions({ mru: 9000, clientinterface: 'eth1', rtpreorder: 0 }), { mru: 9000, clientInterface: 'eth1', rtpReorder: 0 });
});

test('an upstream is a transport connection unless it says it is a datagram receiver; closed before connecting, it ended cleanly', async () => {
  class Conn extends UpstreamBase { torn = 0; protected teardown(): void { this.torn++; } }
  class Receiver extends UpstreamBase { override readonly connectsOnData = true; protected teardown(): void { /* holds nothing */ } }
  const c = new Conn();
  const conn: Upstream = c;
  const receiver: Upstream = new Receiver();
  assert.deepEqual([conn.connectsOnData, receiver.connectsOnData], [false, true]);
  conn.close();
  conn.close();
  assert.equal(c.torn, 1, 'close() is idempotent');
  await assert.rejects(conn.connected, { code: 'UPSTREAM_ENDED' });
  assert.deepEqual(await conn.ended, {});
  receiver.close();
});
