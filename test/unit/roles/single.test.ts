// A single process built from a configuration, in-process on port 0 with a loopback
// upstream: every API type answers on its path, control acts on the stream that health,
// check and the status page then report, a reload keeps the listening socket and the
// kept stream's upstream, and close() is idempotent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SingleApp } from '../../../src/roles/single.js';
import type { Runner } from '../../../src/roles/shared.js';
import { capturedLogger, request } from '../../helpers/inproc.js';
import { until } from '../../helpers/wait.js';
import { basic, configOf, packetUpstream } from '../../helpers/roles.js';

const ADMIN = basic('admin', 'pw');

/** A stream client: its status, type and first bytes; then it leaves. */
function firstBytes(url: string): Promise<{ status: number; type: string | undefined; first: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      res.once('data', (b: Buffer) => { resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], first: b }); req.destroy(); });
    });
    req.on('error', reject);
  });
}

test('every API type answers on its path; control, check, health and the status page agree on the stream', async (t) => {
  const up = await packetUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'rs-single-'));
  t.after(async () => { await up.stop(); rmSync(dir, { recursive: true, force: true }); });
  writeFileSync(join(dir, 'logo.txt'), 'a logo');
  const auth = { type: 'basic', users: ['admin'] };
  const cfg = await configOf({
    userlist: { admin: { password: 'pw' } },
    resources: [
      { type: 'stream', serve: '/live.ts', remote: up.url(), name: 'Live' },
      { type: 'api', api: 'health', serve: '/health' },
      { type: 'api', api: 'statistics', serve: '/statistics' },
      { type: 'api', api: 'check', serve: '/check', remote: '/live.ts' },
      { type: 'api', api: 'control', serve: '/control', remote: '/live.ts', authentication: auth },
      { type: 'api', api: 'prometheus', serve: '/metrics' },
      { type: 'api', api: 'status', serve: '/status', authentication: auth },
      { type: 'api', api: 'playlist', serve: '/playlist.m3u' },
      { type: 'static', serve: '/logo.txt', remote: `file://${join(dir, 'logo.txt')}` },
    ],
  });
  const { log, lines } = capturedLogger();
  const app = new SingleApp(cfg, log);
  t.after(() => app.close());
  const { port } = await app.start();
  const url = (p: string) => `http://127.0.0.1:${port}${p}`;
  const get = async (p: string, headers: Record<string, string> = {}) => {
    const r = await request(url(p), { headers });
    return { status: r.status, type: r.headers['content-type'], body: r.body.toString('utf8') };
  };
  assert.ok(lines.some((l) => l.evt === 'listen' && l.port === port));

  await until(async () => (await get('/check')).status === 200, 10_000, 'the upstream delivering');
  assert.deepEqual(await get('/check'), { status: 200, type: 'text/plain', body: '200 ok' });
  const health = JSON.parse((await get('/health')).body) as Record<string, unknown>;
  assert.deepEqual({ ...health, bandwidth: 0 }, { status: 'ok', viewer: 0, limit: 0, max: 0, bandwidth: 0, down: [], offline: [], unhealthy: [] });
  const stats = JSON.parse((await get('/statistics')).body) as { status: string; streams: Record<string, { connected: boolean; url: string } | undefined> };
  assert.equal(stats.status, 'ok');
  assert.equal(stats.streams['/live.ts']?.connected, true);
  assert.equal(stats.streams['/live.ts'].url, up.url());
  const metrics = await get('/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /^streaming_source_connected\{stream="\/live\.ts",url="[^"]+"\} 1$/m);
  const playlist = await get('/playlist.m3u');
  assert.equal(playlist.body, `#EXTM3U\n#EXTINF:-1 tvg-name="Live",Live\nhttp://127.0.0.1:${port}/live.ts\n`);
  const logo = await get('/logo.txt');
  assert.deepEqual([logo.status, logo.body], [200, 'a logo']);
  const viewer = await firstBytes(url('/live.ts'));
  assert.equal(viewer.status, 200);
  assert.equal(viewer.type, 'video/mpeg');
  assert.equal(viewer.first[0], 0x47, 'TS packets');

  // control needs its authentication; then acts on the stream the others report.
  assert.equal((await get('/control?offline')).status, 401);
  assert.deepEqual(await get('/control?offline', ADMIN), { status: 202, type: 'text/plain', body: '202 accepted' });
  assert.deepEqual(await get('/check'), { status: 404, type: 'text/plain', body: '404 not found' });
  assert.deepEqual((JSON.parse((await get('/health')).body) as { offline: string[] }).offline, ['/live.ts']);
  const snap = JSON.parse((await get('/status?snapshot', ADMIN)).body) as { streams: { path: string; name: string; state: string }[] };
  assert.deepEqual(snap.streams.map((s) => [s.path, s.name, s.state]), [['/live.ts', 'Live', 'offline']]);
  assert.equal((await get('/control?online', ADMIN)).status, 202);
  assert.equal((await get('/control', ADMIN)).status, 400);
  await until(async () => (await get('/check')).status === 200, 10_000, 'back online');
  assert.equal((await get('/nothing-here')).status, 404);
});

test('reload: the same socket and the kept stream\'s upstream, the new routes; a new listen address is refused; close() once', async (t) => {
  const up = await packetUpstream();
  t.after(() => up.stop());
  const stream = { type: 'stream', serve: '/live.ts', remote: up.url() };
  const cfg = await configOf({ resources: [stream, { type: 'api', api: 'health', serve: '/health' }] });
  const { log } = capturedLogger();
  const first = new SingleApp(cfg, log);
  let running: Runner = first;
  t.after(() => running.close());
  const { port } = await first.start();
  const status = async (p: string) => (await request(`http://127.0.0.1:${port}${p}`)).status;
  assert.equal(first.generation, 0);
  await until(() => up.requests === 1 && first.upstream.streams.get('/live.ts')!.available, 10_000, 'the upstream delivering');

  const next = await configOf({ resources: [stream, { type: 'api', api: 'statistics', serve: '/stats' }] });
  const { runner, plan } = first.reload(next);
  running = runner;
  assert.notEqual(runner, first);
  assert.deepEqual(plan.keep, ['/live.ts']);
  assert.equal(runner.generation, 1);
  assert.equal(runner.upstream.streams.get('/live.ts'), first.upstream.streams.get('/live.ts'), 'the stream runs on');
  assert.equal(await status('/stats'), 200);
  assert.equal(await status('/health'), 404);
  assert.equal(up.requests, 1, 'no new upstream connection');

  const moved = await configOf({ listen: '127.0.0.1:1', resources: [stream] });
  assert.throws(() => runner.reload(moved), (e: Error) => e.name === 'ReloadRefused' && e.message.includes('"listen" cannot change while running'));
  assert.equal(await status('/stats'), 200, 'a refused reload changes nothing');

  const closing = runner.close();
  assert.equal(runner.close(), closing, 'idempotent');
  await closing;
  await assert.rejects(request(`http://127.0.0.1:${port}/stats`), /ECONNREFUSED/);
});
