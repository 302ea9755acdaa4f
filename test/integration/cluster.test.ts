// Multi-process mode: every client gets every byte in order whichever worker serves it,
// the hard limit stays exact, each upstream is pulled once, the APIs see the whole
// instance, and a worker that dies is replaced.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { childPids as workerPids } from '../helpers/procs.js';
import { startProxy, StreamClient, sigtermUnderLoad, type ProxyProcess } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';
import { type PacedServer } from '../helpers/upstream.js';
import { Scope } from '../helpers/scope.js';
import { ccErrors, overlapEqual, PKT } from '../helpers/packets.js';

const scope = new Scope();
after(() => scope.close());

const paced = (rate?: number): Promise<PacedServer> => scope.paced(rate);

const proxy = (cfg: Record<string, unknown>, wait = true): Promise<ProxyProcess> => scope.proxy(cfg, wait);

function getJson(url: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      let b = '';
      res.on('data', (d: Buffer | string) => { b += String(d); });
      res.on('end', () => { try { resolve(JSON.parse(b) as Record<string, unknown>); } catch (e) { reject(e); } });
    }).on('error', reject);
  });
}

test('workers: 2 — one upstream connection, every client on either worker gets identical, complete data', async () => {
  const up = await paced();
  // A generous outputbuffer: this test is about data crossing workers intact, and a busy
  // machine must not turn a slow test client into a dropped packet.
  const p = await proxy({ workers: 2, reconnect: 1, outputbuffer: 5000, resources: [
    { type: 'stream', serve: '/live.ts', remote: up.url(), start: 'live' },
    { type: 'api', api: 'health', serve: '/health' },
  ] });
  assert.equal(workerPids(p.proc.pid!).length, 2, 'two worker processes');
  const clients = Array.from({ length: 40 }, () => new StreamClient(p.url('/live.ts')));
  await Promise.all(clients.map((c) => c.responded));
  // Enough packets for every client that their overlaps can be compared.
  await until(() => clients.every((c) => c.bytes > 200 * PKT), 15000, 'data for every client');
  const health = await getJson(p.url('/health'));
  assert.equal(health.viewer, 40, 'health counts the clients of both workers');
  for (const c of clients) c.close();
  assert.equal(up.requests, 1, 'the upstream was requested once');
  const workersSeen = new Set(p.logs.filter((l) => l.evt === 'client_connect').map((l) => l.worker));
  assert.equal(workersSeen.size, 2, 'clients were served by both workers');
  const caps = clients.map((c) => { const b = c.body(); return b.subarray(0, b.length - (b.length % PKT)); });
  const ref = caps.reduce((a, b) => (a.length >= b.length ? a : b));
  for (const [i, cap] of caps.entries()) {
    assert.equal(cap[0], 0x47);
    assert.equal(ccErrors(cap), 0, `client ${i}: no packet lost or reordered`);
    // Clients on different workers (or batches) start a little apart: compare the overlap.
    assert.ok(overlapEqual(ref, cap) > 50 * PKT, `client ${i}: identical bytes to the others where they overlap`);
  }
});

test('workers: 2 — maxconnections stays exact under 200 concurrent connects', async () => {
  const up = await paced();
  const p = await proxy({ workers: 2, maxconnections: 50, reconnect: 1, resources: [{ type: 'stream', serve: '/live.ts', remote: up.url() }] });
  const clients = Array.from({ length: 200 }, () => new StreamClient(p.url('/live.ts'), { keep: false }));
  await Promise.all(clients.map((c) => c.responded));
  const ok = clients.filter((c) => c.status === 200).length;
  const refused = clients.filter((c) => c.status === 404).length;
  assert.equal(ok, 50, 'exactly maxconnections admitted');
  assert.equal(refused, 150);
  for (const c of clients) c.close();
  // Slots come back when clients leave (the workers tell the primary as they notice).
  let again: StreamClient | undefined;
  await until(async () => {
    again?.close();
    again = new StreamClient(p.url('/live.ts'), { keep: false });
    await again.responded;
    return again.status === 200;
  }, 5000, 'a slot to come back', 50);
  again?.close();
});

test('workers: 2 — a worker that dies is replaced; the instance keeps serving', async () => {
  const up = await paced();
  const p = await proxy({ workers: 2, reconnect: 1, resources: [
    { type: 'stream', serve: '/live.ts', remote: up.url() },
    { type: 'api', api: 'health', serve: '/health' },
  ] });
  const before = workerPids(p.proc.pid!);
  assert.equal(before.length, 2);
  process.kill(before[0]!, 'SIGKILL');
  await until(() => { const now = workerPids(p.proc.pid!); return now.length === 2 && !now.includes(before[0]!); }, 8000, 'a replacement worker');
  const cs = Array.from({ length: 6 }, () => new StreamClient(p.url('/live.ts'), { keep: false }));
  await Promise.all(cs.map((c) => c.responded));
  for (const c of cs) assert.equal(c.status, 200);
  await until(() => cs.every((c) => c.bytes > 0), 5000, 'data from every worker');
  const h = await getJson(p.url('/health'));
  assert.equal(h.status, 'ok');
  assert.equal(h.viewer, 6);
  for (const c of cs) c.close();
  assert.equal(up.requests, 1, 'the upstream connection survived the worker');
  assert.ok(p.exitCode === null, 'the instance is still running');
});

test('workers: 2 — control takes the stream offline on every worker; prometheus sums the workers', async () => {
  const up = await paced();
  const p = await proxy({ workers: 2, reconnect: 1, resources: [
    { type: 'stream', serve: '/live.ts', remote: up.url(), start: 'live' },
    { type: 'api', api: 'control', serve: '/control', remote: '/live.ts' },
    { type: 'api', api: 'check', serve: '/check', remote: '/live.ts' },
    { type: 'api', api: 'prometheus', serve: '/metrics' },
  ] });
  const clients = Array.from({ length: 6 }, () => new StreamClient(p.url('/live.ts')));
  await Promise.all(clients.map((c) => c.responded));
  await until(() => clients.every((c) => c.bytes > 200 * PKT), 15000, 'data for every client');
  // Stop reading, let the counters settle (workers report every 250 ms), then compare.
  for (const c of clients) c.close();
  await until(() => clients.every((c) => c.req.destroyed), 5000, 'clients closed');
  const received = clients.reduce((n, c) => n + c.bytes, 0);
  const sentNow = async (): Promise<number> => {
    const text = await (await fetch(p.url('/metrics'))).text();
    return Number(/^streaming_bytes_sent\{stream="\/live.ts"\} (\d+)/m.exec(text)?.[1]);
  };
  // HTTP chunk framing is in `received`, not in the counter; allow it plus one batch per client.
  const close = (sent: number) => sent > 0 && Math.abs(received - sent) < received * 0.05 + 6 * 64 * 1024;
  let sent = 0;
  await until(async () => close(sent = await sentNow()), 5000, 'the summed counters', 50).catch(() => undefined);
  assert.ok(close(sent), `sent ${sent} vs received ${received}`);

  const more = Array.from({ length: 4 }, () => new StreamClient(p.url('/live.ts'), { keep: false }));
  await Promise.all(more.map((c) => c.responded));
  assert.equal((await fetch(p.url('/control?offline'), { method: 'GET' })).status, 202);
  await Promise.all(more.map((c) => c.done));
  assert.ok(more.every((c) => c.ended), 'every client on every worker was ended');
  assert.equal((await fetch(p.url('/check'))).status, 404);
  const refused = new StreamClient(p.url('/live.ts'));
  await refused.done;
  assert.equal(refused.status, 404);
  assert.equal((await fetch(p.url('/control?online'))).status, 202);
  await until(async () => (await fetch(p.url('/check'))).status === 200, 5000, 'check to answer 200', 50);
  const back = new StreamClient(p.url('/live.ts'), { keep: false });
  await back.responded;
  assert.equal(back.status, 200);
  back.close();
});

test('workers: 2 — SIGTERM with clients connected: exit 0, no worker left behind (the time is measured in bench/shutdown.ts)', async () => {
  const up = await paced();
  const p = await startProxy({ workers: 2, reconnect: 1, resources: [{ type: 'stream', serve: '/live.ts', remote: up.url() }] }, { waitStreams: true });
  scope.defer(() => p.stop());
  const pids = workerPids(p.proc.pid!);
  await sigtermUnderLoad(p, '/live.ts');
  assert.equal(p.exitCode, 0, p.stderr);
  // Gone, or a zombie until its new parent reaps it.
  const gone = (pid: number) => { try { return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] === 'Z'; } catch { return true; } };
  await until(() => pids.every(gone), 5000, 'every worker process to be gone');
});
