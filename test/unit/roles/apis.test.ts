// The API registry: every API type of the schema has an entry; where the upstreams are
// (one process, the primary) each answers as its handler in http/api.ts (or its module)
// does; a worker answers the playlist itself and forwards the others, each as the kind of
// request it needs. Unknown types and missing targets are logged and answered 404.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { API_TYPES, type ResourceConfig } from '../../../src/config/schema.js';
import { parseConfig } from '../../../src/config/load.js';
import { apiHandler, apiModule, needsUpstreams, preloadApis, workerApiHandler, type ApiUpstreams } from '../../../src/roles/apis.js';
import { checkHandler, controlHandler, healthHandler, statisticsHandler, type ApiContext, type ControlledStream } from '../../../src/http/api.js';
import { StatsCollector } from '../../../src/metrics/stats.js';
import type { PrometheusMetrics } from '../../../src/metrics/prometheus.js';
import type { StatusApi } from '../../../src/status/index.js';
import type { ForwardKind, ForwardQuery } from '../../../src/cluster/primary-proxy.js';
import { capturedLogger, request, serve, type Handler, type LogLine } from '../../helpers/inproc.js';

type ApiType = (typeof API_TYPES)[number];

const cfg = await parseConfig(JSON.stringify({
  userlist: { admin: { password: 'pw' } },
  resources: [
    { type: 'stream', serve: '/a.ts', remote: 'http://127.0.0.1:9/a.ts', name: 'Channel A' },
    { type: 'api', api: 'health', serve: '/health' },
  ],
}), '/');

class FakeStream implements ControlledStream {
  offline = false;
  constructor(readonly name: string, public available = true) {}
  setOffline(offline: boolean): void { this.offline = offline; }
}

interface World { u: ApiUpstreams; a: FakeStream; pages: { forwarded: boolean }[]; stats: StatsCollector }

function world(forwardedStatus = false): World {
  const a = new FakeStream('/a.ts');
  const stats = new StatsCollector({ streams: [], connections: () => 2, maxConnections: 10, fullConnections: 5, enabled: true, redact: (s) => s });
  const api: ApiContext = { stats, connections: () => 2, maxConnections: 10, fullConnections: 5, streams: new Map([[a.name, a]]), draining: () => false };
  const pages: { forwarded: boolean }[] = [];
  const metrics = { handle: (_req: IncomingMessage, res: { end(s: string): void }) => { res.end('metrics here'); } } as unknown as PrometheusMetrics;
  const status = {
    page: (_r: ResourceConfig, _l: unknown, forwarded: boolean): Handler => {
      pages.push({ forwarded });
      return (_req, res) => { res.end(`status page (forwarded: ${String(forwarded)})`); };
    },
  } as unknown as StatusApi;
  return { u: { api, metrics, status, forwardedStatus }, a, pages, stats };
}

const res = (api: ApiType | undefined, more: Partial<ResourceConfig> = {}): ResourceConfig =>
  ({ type: 'api', serve: `/${api ?? 'x'}`, api, ...more } as ResourceConfig);

/** The whole answer of `h` to one GET (status, content type, body). */
async function answer(h: Handler, path = '/'): Promise<{ status: number; type: string | undefined; body: string }> {
  const s = await serve(h);
  try {
    const r = await request(s.base + path);
    return { status: r.status, type: r.headers['content-type'], body: r.body.toString('utf8') };
  } finally { await s.close(); }
}

const warnings = (lines: LogLine[]) => lines.filter((l) => l.evt === 'warning').map((l) => l.msg);

/** How a worker answers each API type: itself, or forwarded as this kind. Typed by the schema's list. */
const IN_WORKER: Record<ApiType, ForwardKind | 'itself'> = {
  health: 'api', statistics: 'api', check: 'api', control: 'control', prometheus: 'prometheus', status: 'status', playlist: 'itself',
};

test('every API type of the schema has an entry: none is answered as unknown, and each says whether it needs the upstreams', () => {
  assert.deepEqual(Object.keys(IN_WORKER).sort(), [...API_TYPES].sort());
  for (const api of API_TYPES) {
    const { log, lines } = capturedLogger();
    apiHandler(res(api, { remote: '/a.ts', authentication: { type: 'basic', realm: '', users: ['admin'] } }), log, cfg, world().u);
    assert.deepEqual(warnings(lines), [], api);
    assert.equal(needsUpstreams(res(api)), IN_WORKER[api] !== 'itself', api);
  }
  assert.equal(needsUpstreams(res(undefined)), false);
});

test('where the upstreams are, each API answers byte for byte as its own handler', async () => {
  const { u, a } = world();
  const { log } = capturedLogger();
  const same = async (api: ApiType, own: Handler, path = '/') => {
    assert.deepEqual(await answer(apiHandler(res(api, { remote: '/a.ts' }), log, cfg, u), path), await answer(own, path), api);
  };
  await same('health', healthHandler(u.api));
  await same('statistics', statisticsHandler(u.api));
  await same('check', checkHandler(a));
  a.available = false;
  await same('check', checkHandler(a));
  await same('control', controlHandler(a), '/?nothing');
  assert.equal((await answer(apiHandler(res('control', { remote: '/a.ts' }), log, cfg, u), '/?offline')).status, 202);
  assert.equal(a.offline, true, 'control acts on the stream named by remote');
  assert.equal((await answer(apiHandler(res('prometheus'), log, cfg, u))).body, 'metrics here');
  const playlist = await answer(apiHandler(res('playlist'), log, cfg, u));
  assert.equal(playlist.status, 200);
  assert.match(playlist.body, /^#EXTM3U/);
  assert.match(playlist.body, /Channel A\r?\n.*\/a\.ts/);
});

test('status: the page of the upstream side, told whether it answers forwarded requests', async () => {
  const { log } = capturedLogger();
  for (const forwarded of [false, true]) {
    const w = world(forwarded);
    assert.equal((await answer(apiHandler(res('status'), log, cfg, w.u))).body, `status page (forwarded: ${String(forwarded)})`);
    assert.deepEqual(w.pages, [{ forwarded }]);
  }
});

test('an api resource without a known api: a warning, and 404 (the primary answers for a worker)', async () => {
  const { log, lines } = capturedLogger();
  const a = await answer(apiHandler(res(undefined), log, cfg, world().u));
  assert.deepEqual(a, { status: 404, type: 'text/plain', body: '404 not found' });
  assert.deepEqual(warnings(lines), ['resource of type "api" without a known "api"; answering 404']);
  const asked: ForwardKind[] = [];
  workerApiHandler(res(undefined), log, cfg, (kind) => { asked.push(kind); return () => {}; });
  assert.deepEqual(asked, ['api']);
});

test('check and control on a stream that does not exist: a warning naming it, and 404', async () => {
  for (const api of ['check', 'control'] as const) {
    const { log, lines } = capturedLogger();
    const a = await answer(apiHandler(res(api, { remote: '/nope.ts' }), log, cfg, world().u), '/?offline');
    assert.deepEqual(a, { status: 404, type: 'text/plain', body: '404 not found' }, api);
    assert.deepEqual(warnings(lines), [`${api} API: no stream is served on "/nope.ts"; answering 404`]);
    assert.equal(lines[0]!.remote, '/nope.ts');
  }
});

test('control without authentication is served, with a warning; with it, silently', () => {
  const open = capturedLogger();
  apiHandler(res('control', { remote: '/a.ts' }), open.log, cfg, world().u);
  assert.deepEqual(warnings(open.lines), ['control API without authentication: anyone who can reach it can switch the stream offline']);
  const closed = capturedLogger();
  apiHandler(res('control', { remote: '/a.ts', authentication: { type: 'bearer', realm: '', users: ['admin'] } }), closed.log, cfg, world().u);
  assert.deepEqual(warnings(closed.lines), []);
});

test('a worker: the playlist answered itself, every other API forwarded as its kind (status with its own query)', async () => {
  const { log } = capturedLogger();
  for (const api of API_TYPES) {
    const asked: { kind: ForwardKind; query: ForwardQuery | undefined }[] = [];
    const h = workerApiHandler(res(api), log, cfg, (kind, query) => { asked.push({ kind, query }); return (_req, r) => { r.end('forwarded'); }; });
    const expected = IN_WORKER[api];
    if (expected === 'itself') {
      assert.deepEqual(asked, [], api);
      assert.match((await answer(h)).body, /^#EXTM3U/);
      continue;
    }
    assert.equal(asked.length, 1, api);
    assert.equal(asked[0]!.kind, expected, api);
    assert.equal((await answer(h)).body, 'forwarded');
    assert.equal(asked[0]!.query !== undefined, api === 'status', api);
  }
  let query: ForwardQuery | undefined;
  workerApiHandler(res('status'), log, cfg, (_k, q) => { query = q; return () => {}; });
  const fake = (method: string, url: string) => ({ method, url, headers: {}, socket: {} }) as unknown as IncomingMessage;
  assert.deepEqual(query!(fake('GET', '/status?events')), { ok: true, method: 'GET', query: 'events' });
  assert.equal(query!(fake('PUT', '/status')).ok, false);
});

test('the prometheus and status modules: loaded by preloadApis for a configuration with such a resource, and only then built', async () => {
  // `cfg` serves neither: nothing to load, and nothing of them is built.
  await preloadApis(cfg);
  assert.equal(apiModule(cfg, 'prometheus'), undefined);
  assert.equal(apiModule(cfg, 'status'), undefined);
  const withBoth = await parseConfig(JSON.stringify({
    resources: [{ type: 'api', api: 'prometheus', serve: '/m' }, { type: 'api', api: 'status', serve: '/s' }],
  }), '/');
  // Building before loading is a programming error, said as such (the CLI awaits preloadApis first).
  assert.throws(() => apiModule(withBoth, 'prometheus'), /not loaded: await preloadApis/);
  await preloadApis(withBoth);
  assert.equal(typeof apiModule(withBoth, 'prometheus')?.PrometheusMetrics, 'function');
  assert.equal(typeof apiModule(withBoth, 'status')?.StatusApi, 'function');
});

