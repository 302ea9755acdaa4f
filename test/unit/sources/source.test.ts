// What every upstream kind shares: the resolved settings it reads, and the two kinds of
// upstream (a transport connection, a datagram receiver) the supervisor tells apart.
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { sourceOptions, type Upstream } from '../../../src/sources/source.js';
import { ResourceSchema, type ResourceConfig } from '../../../src/config/schema.js';
import { UpstreamBase } from '../../../src/sources/base.js';

describe('sourceOptions: the resource keys the schema marks for upstream kinds', () => {
  const resource = (extra: Partial<ResourceConfig> = {}): ResourceConfig => ResourceSchema.parse({ type: 'stream', serve: '/a', remote: 'udp://239.0.0.1:1234', ...extra });

  it('defaults applied; "" (no interface) left unset', () => {
    assert.deepEqual(sourceOptions(resource()), { mru: 1500, rtpReorder: 8 });
  });
  it('each key under its option name', () => {
    assert.deepEqual(sourceOptions(resource({ mru: 1316, clientinterface: 'eth0', rtpreorder: 32 })), { mru: 1316, clientInterface: 'eth0', rtpReorder: 32 });
  });
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
