// A multi-process worker's configuration, in-process: its front on port 0, the primary's
// internal server played by a PrimaryApiServer that records what reaches it. The
// playlist is answered here; every other API and static resource is forwarded as its
// kind (control's action, gzip for the metrics, the status page's own query), after the
// worker's authentication; the answer is relayed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerApp } from '../../../src/roles/worker.js';
import { WorkerRpc } from '../../../src/cluster/rpc.js';
import { PrimaryApiServer, type InternalRoute } from '../../../src/cluster/primary-api.js';
import type { WorkerMessage } from '../../../src/cluster/protocol.js';
import { capturedLogger, request } from '../../helpers/inproc.js';
import { basic, configOf } from '../../helpers/roles.js';

test('WorkerApp: the playlist here, the other resources forwarded to the primary as their kind, after authentication; a reload keeps the front', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-worker-'));
  const apiSocket = join(dir, 'api.sock');
  const { log } = capturedLogger();
  const reached: string[] = [];
  const lastReached = (): string | undefined => reached.pop();
  const primary = new PrimaryApiServer('sec', log);
  await primary.listen(apiSocket);
  const cfg = await configOf({
    userlist: { admin: { password: 'pw' } },
    resources: [
      { type: 'stream', serve: '/live.ts', remote: 'http://127.0.0.1:9/live.ts', name: 'Live' },
      { type: 'api', api: 'health', serve: '/health' },
      { type: 'api', api: 'statistics', serve: '/statistics' },
      { type: 'api', api: 'check', serve: '/check', remote: '/live.ts' },
      { type: 'api', api: 'control', serve: '/control', remote: '/live.ts', authentication: { type: 'basic', users: ['admin'] } },
      { type: 'api', api: 'prometheus', serve: '/metrics' },
      { type: 'api', api: 'status', serve: '/status' },
      { type: 'api', api: 'playlist', serve: '/playlist.m3u' },
      { type: 'static', serve: '/logo.png', remote: 'http://127.0.0.1:9/logo.png' },
    ],
  });
  const routes = new Map<number, InternalRoute>(cfg.resources.map((r, i) => [i, {
    serve: r.serve,
    handle: (req, res) => {
      reached.push(`${req.url ?? ''} ${req.headers['accept-encoding'] ?? ''}`.trim());
      res.writeHead(200, { 'Content-Type': 'text/plain', 'X-Internal': 'dropped' }).end(`primary ${r.serve}`);
    },
  }]));
  primary.setRoutes(4, routes);
  const sent: WorkerMessage[] = [];
  const rpc = new WorkerRpc((m) => sent.push(m), () => [], () => {}, () => {});
  const app = new WorkerApp({ cfg, slots: [0], generation: 4 }, log, { rpc, apiSocket, apiSecret: 'sec' });
  let running = app;
  t.after(async () => { await running.close(); await primary.close(); rmSync(dir, { recursive: true, force: true }); });
  const { port } = await app.front.listen('127.0.0.1', 0);
  const get = async (p: string, headers: Record<string, string> = {}) => {
    const r = await request(`http://127.0.0.1:${port}${p}`, { headers });
    return { status: r.status, body: r.body.toString('utf8'), headers: r.headers };
  };

  const playlist = await get('/playlist.m3u');
  assert.equal(playlist.body, `#EXTM3U\n#EXTINF:-1 tvg-name="Live",Live\nhttp://127.0.0.1:${port}/live.ts\n`);
  assert.equal(reached.length, 0, 'the playlist is answered in the worker');

  for (const [path, index] of [['/health', 1], ['/statistics', 2], ['/check', 3]] as const) {
    const r = await get(`${path}?x=1`, { 'accept-encoding': 'gzip' });
    assert.deepEqual([r.status, r.body], [200, `primary ${path}`]);
    assert.equal(r.headers['x-internal'], undefined, 'only the relayed headers');
    assert.equal(lastReached(), `/r/4/${index}`, `${path}: nothing of the request crosses`);
  }
  assert.equal((await get('/control?offline')).status, 401, 'authenticated here');
  assert.equal(reached.length, 0);
  assert.equal((await get('/control?online&offline', basic('admin', 'pw'))).body, 'primary /control');
  assert.equal(lastReached(), '/r/4/4?offline');
  await get('/metrics', { 'accept-encoding': '*' });
  assert.equal(lastReached(), '/r/4/5 gzip');
  await get('/status?events&junk');
  assert.equal(lastReached(), '/r/4/6?events', 'the status page\'s own query');
  assert.equal((await get('/status?x=%0d%0a')).status, 200);
  assert.equal(lastReached(), '/r/4/6');
  await get('/logo.png', { 'if-none-match': '"0123456789abcdef"' });
  assert.equal(lastReached(), '/r/4/8');

  // The next configuration: the same front, its routes; a slot that stays keeps its stream.
  const next = await configOf({ resources: [{ type: 'stream', serve: '/live.ts', remote: 'http://127.0.0.1:9/live.ts' }, { type: 'api', api: 'health', serve: '/h2' }] });
  primary.setRoutes(5, routes);
  running = app.reload({ cfg: next, slots: [0], generation: 5 });
  assert.equal(running.front, app.front);
  assert.equal((await get('/h2')).body, 'primary /health', 'resource 1 of generation 5 is asked for');
  assert.equal(lastReached(), '/r/5/1');
  assert.equal((await get('/health')).status, 404);
  assert.deepEqual(sent.filter((m) => m.t !== 'viewer'), [], 'no admission asked for API requests');
});
