// A multi-process primary's configuration, in-process: the worker processes are not
// started (that is test/integration/cluster*.test.ts); the internal socket is asked as a
// worker asks it. Each forwarded resource answers by index, the APIs over the upstreams
// after fresh worker counters and with them, a reload moves to the next generation, and
// the root refuses what cannot change while running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrimaryApp, PrimaryRoot } from '../../../src/roles/primary.js';
import { planReload } from '../../../src/reload.js';
import type { PrimaryLink } from '../../../src/cluster/primary.js';
import { WorkerPipes } from '../../../src/cluster/fanout.js';
import { WorkerCounters } from '../../../src/cluster/counters.js';
import { MirrorOutput } from '../../../src/cluster/mirror.js';
import { SECRET_HEADER } from '../../../src/cluster/primary-proxy.js';
import { capturedLogger } from '../../helpers/inproc.js';
import { until } from '../../helpers/wait.js';
import { configOf, packetUpstream } from '../../helpers/roles.js';

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

function ask(socketPath: string, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path, agent: false, headers: { [SECRET_HEADER]: 'sec', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('latin1') }));
    });
    req.on('error', reject);
  });
}

test('PrimaryApp: every forwarded resource answers on the internal socket by index; APIs over the upstreams wait for the workers\' counters and sum them', async (t) => {
  const up = await packetUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'rs-primary-'));
  writeFileSync(join(dir, 'logo.txt'), 'a logo');
  const stream = { type: 'stream', serve: '/live.ts', remote: up.url() };
  const cfg = await configOf({
    resources: [
      stream,
      { type: 'api', api: 'health', serve: '/health' },
      { type: 'api', api: 'statistics', serve: '/statistics' },
      { type: 'api', api: 'check', serve: '/check', remote: '/live.ts' },
      { type: 'api', api: 'control', serve: '/control', remote: '/live.ts' },
      { type: 'api', api: 'prometheus', serve: '/metrics' },
      { type: 'api', api: 'status', serve: '/status' },
      { type: 'api', api: 'playlist', serve: '/playlist.m3u' },
      { type: 'static', serve: '/logo.txt', remote: `file://${join(dir, 'logo.txt')}` },
    ],
  });
  const pipes = new WorkerPipes(1);
  const counters = new WorkerCounters(1);
  let refreshes = 0;
  const link: PrimaryLink = { mirror: (slot) => new MirrorOutput(pipes, slot), counters, refresh: () => { refreshes++; return Promise.resolve(); }, apiSecret: 'sec' };
  const { log, lines } = capturedLogger();
  let app = new PrimaryApp(cfg, log, link, [0], undefined);
  const sock = join(dir, 'api.sock');
  await app.internal.listen(sock);
  app.upstream.start();
  t.after(async () => { await app.close(); pipes.close(); await up.stop(); rmSync(dir, { recursive: true, force: true }); });

  await until(async () => (await ask(sock, '/r/0/3')).status === 200, 10_000, 'the upstream delivering');
  const before = refreshes;
  const health = JSON.parse((await ask(sock, '/r/0/1')).body) as { status: string; down: string[] };
  assert.deepEqual([health.status, health.down], ['ok', []]);
  assert.equal(refreshes, before + 1, 'health waited for the workers\' counters');
  counters.update(7, [{ packetsSent: 10, packetsDropped: 0, clients: 3, clientMs: 0, responses: [[200, 3]] }]);
  const metrics = await ask(sock, '/r/0/5');
  assert.match(metrics.body, /^streaming_connections\{stream="\/live\.ts"\} 3$/m, 'the workers\' clients, summed here');
  assert.match(metrics.body, /^streaming_responses_total\{stream="\/live\.ts",code="200"\} 3$/m);
  assert.equal((await ask(sock, '/r/0/5', { 'accept-encoding': 'gzip' })).headers['content-encoding'], 'gzip');
  const stats = JSON.parse((await ask(sock, '/r/0/2')).body) as { streams: Record<string, { connected: boolean } | undefined> };
  assert.equal(stats.streams['/live.ts']?.connected, true);
  const snap = JSON.parse((await ask(sock, '/r/0/6?snapshot')).body) as { streams: { path: string }[] };
  assert.deepEqual(snap.streams.map((s) => s.path), ['/live.ts']);
  assert.ok(lines.some((l) => l.msg === 'status page in multi-process mode: per-stream figures only, no per-client rows'));

  const counted = refreshes;
  assert.match((await ask(sock, '/r/0/7')).body, /^#EXTM3U/);
  assert.equal((await ask(sock, '/r/0/8')).body, 'a logo');
  assert.equal(refreshes, counted, 'the playlist and static resources need no worker counters');

  assert.equal((await ask(sock, '/r/0/4?offline')).status, 202);
  assert.equal((await ask(sock, '/r/0/3')).status, 404, 'control acted on the stream check reports');
  assert.equal((await ask(sock, '/r/0/4?online')).status, 202);
  assert.equal((await ask(sock, '/r/0/0')).status, 403, 'streams are never answered here');

  // A reload: the same internal server, the next generation; the previous one is told to retry.
  const next = await configOf({ resources: [stream, { type: 'api', api: 'health', serve: '/health' }] });
  const old = app;
  app = old.reload(next, link, [0], planReload(cfg, next), undefined);
  assert.equal(app.internal, old.internal);
  assert.equal(app.generation, 1);
  assert.equal(app.streams.get('/live.ts'), old.streams.get('/live.ts'), 'the stream runs on');
  assert.equal((await ask(sock, '/r/0/1')).status, 503);
  assert.equal((await ask(sock, '/r/1/1')).status, 200);
  assert.equal((await ask(sock, '/r/1/2')).status, 403, 'resource 2 is gone');
});

test('PrimaryRoot before start: its configuration, reloads applied here, what cannot change refused; close() once', async () => {
  const cfg = await configOf({ workers: 2, resources: [{ type: 'api', api: 'health', serve: '/health' }] });
  const { log } = capturedLogger();
  const root = new PrimaryRoot(cfg, log, 2);
  assert.equal(root.cfg, cfg);
  const fewer = await configOf({ workers: 3, resources: [] });
  assert.throws(() => root.reload(fewer), /"workers" cannot change while running/);
  assert.equal(root.cfg, cfg, 'nothing changed');
  const next = await configOf({ workers: 2, resources: [{ type: 'api', api: 'statistics', serve: '/statistics' }] });
  const { runner, plan } = root.reload(next);
  assert.equal(runner, root, 'the primary stays the runner');
  assert.deepEqual(plan.refused, []);
  assert.equal(root.cfg, next);
  const closing = root.close();
  assert.equal(root.close(), closing);
  await closing;
});
