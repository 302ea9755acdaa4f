// The worker's side of the IPC channel (src/cluster/rpc.ts): replies settle their
// requests, reports go out one way, the primary's blocks (brute-force protection) hold
// here, and close fails what is still waiting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkerRpc } from '../../../src/cluster/rpc.js';
import type { WorkerMessage } from '../../../src/cluster/protocol.js';

function rpc() {
  const sent: WorkerMessage[] = [];
  const calls = { shutdown: 0, reopen: 0 };
  const r = new WorkerRpc((m) => sent.push(m), () => [], () => { calls.shutdown++; }, () => { calls.reopen++; });
  return { r, sent, calls };
}

test('acquire is answered by its id; close fails what is still waiting', async () => {
  const { r, sent } = rpc();
  const first = r.acquire();
  const second = r.acquire();
  const ids = sent.map((m) => (m as { id: number }).id);
  r.onMessage({ t: 'acquired', id: ids[1]!, ok: true });
  assert.equal(await second, true);
  r.close();
  assert.equal(await first, false);
});

test('ping, shutdown and reopen', () => {
  const { r, sent, calls } = rpc();
  r.onMessage({ t: 'ping', seq: 7 });
  assert.deepEqual(sent, [{ t: 'pong', seq: 7 }]);
  r.onMessage({ t: 'shutdown' });
  r.onMessage({ t: 'reopen' });
  assert.deepEqual(calls, { shutdown: 1, reopen: 1 });
});

test('authGuard: wrong credentials go to the primary; only its block makes an address 429 here', () => {
  const { r, sent } = rpc();
  for (let i = 0; i < 50; i++) r.authGuard.fail('192.0.2.1');
  assert.equal(sent.length, 50);
  assert.deepEqual(sent[0], { t: 'authfail', address: '192.0.2.1' });
  assert.equal(r.authGuard.blockedMs('192.0.2.1'), 0, 'the worker counts nothing itself');
  r.onMessage({ t: 'authblock', key: '192.0.2.1', ms: 60_000 });
  const left = r.authGuard.blockedMs('::ffff:192.0.2.1');
  assert.ok(left > 59_000 && left <= 60_000, String(left));
  assert.equal(r.authGuard.blockedMs('192.0.2.2'), 0);
});
