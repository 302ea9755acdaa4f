// What the roots share: the reload refusal, the static timeout, and the public routes,
// each behind its authentication and the access log, stream answers counted by status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Handler } from '../../../src/http/server.js';
import type { StaticResource } from '../../../src/http/static.js';
import { StatusCounts } from '../../../src/metrics/stats.js';
import { planReload } from '../../../src/reload.js';
import { assertReloadable, createFront, publicRoutes, staticHandler, staticTimeoutMs } from '../../../src/roles/shared.js';
import { capturedLogger, request } from '../../helpers/inproc.js';
import { basic, configOf } from '../../helpers/roles.js';

test('assertReloadable: a plan that changes the listen address or the worker count is refused, naming each', async () => {
  const cfg = await configOf({ resources: [] });
  assert.doesNotThrow(() => assertReloadable(planReload(cfg, cfg)));
  const moved = await configOf({ listen: '127.0.0.1:8', workers: 2, resources: [] });
  assert.throws(() => assertReloadable(planReload(cfg, moved)), (e: Error) => {
    assert.equal(e.name, 'ReloadRefused');
    assert.equal(e.message, '"listen" cannot change while running ("127.0.0.1:0" -> "127.0.0.1:8"): restart to apply it; "workers" cannot change while running (0 -> 2): restart to apply it');
    return true;
  });
});

test('staticTimeoutMs: the timeout in ms, or the resource\'s default for 0', async () => {
  assert.equal(staticTimeoutMs(await configOf({ resources: [] })), undefined);
  assert.equal(staticTimeoutMs(await configOf({ timeout: 2.5, resources: [] })), 2500);
});

test('publicRoutes on the front: authentication per resource, one access line per answer, stream answers counted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-shared-'));
  writeFileSync(join(dir, 'a.txt'), 'file a');
  const cfg = await configOf({
    userlist: { admin: { password: 'pw' } },
    resources: [
      { type: 'stream', serve: '/live.ts', remote: 'http://127.0.0.1:9/live.ts' },
      { type: 'static', serve: '/a.txt', remote: `file://${join(dir, 'a.txt')}`, authentication: { type: 'basic', users: ['admin'] } },
    ],
  });
  const { log, lines } = capturedLogger();
  const statics: StaticResource[] = [];
  const counts = new StatusCounts();
  const seen: number[] = [];
  const front = createFront(log);
  front.setRoutes(publicRoutes(cfg, log, new Map([['/live.ts', counts]]), (r, _rlog, index): Handler => {
    seen.push(index);
    if (r.type === 'static') return staticHandler(r, cfg, log, statics);
    return (_req, res) => { res.writeHead(503).end(); };
  }));
  const { port } = await front.listen('127.0.0.1', 0);
  t.after(async () => { await front.close(0); for (const s of statics) s.close(); rmSync(dir, { recursive: true, force: true }); });
  assert.deepEqual(seen, [0, 1], 'each resource built once, with its index');
  assert.equal(statics.length, 1, 'the static resource is kept for closing');
  const url = (p: string) => `http://127.0.0.1:${port}${p}`;

  assert.equal((await request(url('/a.txt'))).status, 401);
  const a = await request(url('/a.txt'), { headers: basic('admin', 'pw') });
  assert.deepEqual([a.status, a.body.toString()], [200, 'file a']);
  assert.equal((await request(url('/live.ts'))).status, 503);
  assert.equal((await request(url('/live.ts'))).status, 503);
  assert.equal((await request(url('/missing'))).status, 404);
  assert.deepEqual([...counts.entries()], [[503, 2]], 'only the stream\'s answers are counted');
  const access = lines.filter((l) => l.evt === 'access').map((l) => [l.resource, l.status]);
  assert.deepEqual(access, [['/a.txt', 401], ['/a.txt', 200], ['/live.ts', 503], ['/live.ts', 503], [undefined, 404]]);
});
