// The status page's handler (StatusPage) in process, on a real HTTP server on loopback
// with a fake data source: the page and its files (caching, security headers), the
// snapshot and its relative play URLs, Server-Sent Events, and the actions (who may act,
// how: a same-origin POST from clients, a GET with action= on the internal channel).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { loadAssets, StatusPage, type StatusPageOptions } from '../../../src/status/page.js';
import { TrustedProxies } from '../../../src/status/urls.js';
import type { StatusSnapshot, StatusSource, StreamStatus } from '../../../src/status/types.js';
import { noteFor } from '../../../src/http/notes.js';
import { capturedLogger, request, serve, type Served } from '../../helpers/inproc.js';
import { readSse } from '../../helpers/sse.js';
import { until } from '../../helpers/wait.js';

const stream = (path: string): StreamStatus => ({
  path, name: path, upstream: null, state: 'connected', ondemand: false, clients: 0, bitrateIn: 0, bitrateOut: 0,
  packetsReceived: 0, packetsSent: 0, packetsDropped: 0, reconnects: 0, historyIn: [], historyOut: [], analysis: null, alarms: [], healthErrors: null, upstreamReason: null, clientList: [],
});

function snapshot(streams: StreamStatus[]): StatusSnapshot {
  return { time: 0, connections: 0, maxConnections: 0, fullConnections: 0, stats: true, historyIntervalS: 2, clientDetails: true, streams };
}

/** A source that records the actions asked of it; `fail` makes everything reject. */
function fakeSource(o: { clientDetails?: boolean; fail?: boolean } = {}): StatusSource & { calls: string[] } {
  const calls: string[] = [];
  const answer = <T>(v: T): Promise<T> => (o.fail ? Promise.reject(new Error('source down')) : Promise.resolve(v));
  return {
    calls,
    clientDetails: o.clientDetails ?? true,
    snapshot: () => answer(snapshot([stream('/live.ts'), stream('/admin/x.ts')])),
    endClient: (id) => { calls.push(`end ${id}`); return answer(id === 'c7'); },
    setOffline: (path, off) => { calls.push(`${off ? 'offline' : 'online'} ${path}`); return answer(path !== '/nope.ts'); },
  };
}

const { log, lines } = capturedLogger();
const assets = loadAssets(log);
const servers: Served[] = [];
const pages: StatusPage[] = [];
after(async () => {
  for (const p of pages) p.close();
  for (const s of servers) await s.close();
});

/** A page on its own server; `user`: the user authentication accepted (as requireAuth notes it). */
async function page(o: Partial<StatusPageOptions> = {}, user?: string): Promise<Served & { page: StatusPage }> {
  const p = new StatusPage({ source: fakeSource(), servePath: '/admin/status', actions: true, trusted: new TrustedProxies([]), assets, log, ...o });
  pages.push(p);
  const s = await serve((req, res) => {
    if (user) noteFor(res).user = user;
    p.handle(req, res);
  });
  servers.push(s);
  return { ...s, page: p };
}

const json = (a: { body: Buffer }): Record<string, unknown> => JSON.parse(a.body.toString('utf8')) as Record<string, unknown>;

describe('loadAssets', () => {
  it('reads the page, its script and style, and the player, each with an ETag', () => {
    assert.deepEqual([...assets.keys()].sort(), ['app.js', 'index.html', 'mpegts.js', 'style.css']);
    assert.match(assets.get('index.html')!.type, /^text\/html/);
    assert.match(assets.get('index.html')!.etag, /^"[\w-]{16}"$/);
  });
});

describe('StatusPage: the page and its files', () => {
  it('serves the page with security headers; the ETag gives 304; HEAD has no body', async () => {
    const s = await page();
    const r = await request(`${s.base}/admin/status`);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/html/);
    assert.match(String(r.headers['content-security-policy']), /default-src 'none'.*frame-ancestors 'none'/);
    assert.equal(r.headers['x-frame-options'], 'DENY');
    assert.deepEqual(r.body, assets.get('index.html')!.body);
    const cached = await request(`${s.base}/admin/status`, { headers: { 'If-None-Match': String(r.headers.etag) } });
    assert.equal(cached.status, 304);
    const head = await request(`${s.base}/admin/status`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(r.body.length));
    assert.equal(head.body.length, 0);
  });

  it('serves the named assets, and 404 for any other name (index.html included)', async () => {
    const s = await page();
    for (const [name, type] of [['app.js', 'text/javascript'], ['style.css', 'text/css'], ['mpegts.js', 'text/javascript']]) {
      const r = await request(`${s.base}/admin/status?asset=${name}`);
      assert.equal(r.status, 200, name);
      assert.match(String(r.headers['content-type']), new RegExp(`^${type}`), name);
    }
    for (const name of ['index.html', '../../package.json', '']) {
      assert.equal((await request(`${s.base}/admin/status?asset=${encodeURIComponent(name)}`)).status, 404, name);
    }
  });

  it('answers other methods 405 with Allow', async () => {
    const s = await page();
    const r = await request(`${s.base}/admin/status`, { method: 'PUT' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, 'GET, HEAD, POST');
  });
});

describe('StatusPage: data', () => {
  it('?snapshot: the source\'s snapshot, whether actions and the preview are on, and play URLs relative to the page', async () => {
    const s = await page();
    const r = await request(`${s.base}/admin/status?snapshot`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    const body = json(r) as { actions: boolean; preview: boolean; streams: { path: string; playUrl: string }[] };
    assert.equal(body.actions, true);
    assert.equal(body.preview, true);
    assert.deepEqual(body.streams.map((x) => [x.path, x.playUrl]), [['/live.ts', '../live.ts'], ['/admin/x.ts', './x.ts']]);
  });

  it('?snapshot when the source fails: 500, and a warning in the log', async () => {
    const s = await page({ source: fakeSource({ fail: true }) });
    const r = await request(`${s.base}/admin/status?snapshot`);
    assert.equal(r.status, 500);
    assert.ok(lines.some((l) => l.msg === 'status page: snapshot failed' && l.err === 'source down'));
  });

  it('?events: Server-Sent Events carrying the same message; HEAD only says so', async () => {
    const s = await page();
    const head = await request(`${s.base}/admin/status?events`, { method: 'HEAD' });
    assert.equal(head.headers['content-type'], 'text/event-stream; charset=utf-8');
    const got: string[] = [];
    const req = http.get(`${s.base}/admin/status?events`, { agent: false }, (res) => readSse(res, (p) => got.push(p)));
    req.on('error', () => { /* destroyed below */ });
    await until(() => got.length > 0, 10_000, 'the first event');
    assert.deepEqual((JSON.parse(got[0]!) as { streams: { playUrl: string }[] }).streams[0]!.playUrl, '../live.ts');
    assert.equal(s.page.broadcaster.subscribers, 1);
    req.destroy();
    await until(() => s.page.broadcaster.subscribers === 0, 10_000, 'the subscriber gone');
  });
});

describe('StatusPage: actions', () => {
  const sameOrigin = { 'Sec-Fetch-Site': 'same-origin' };

  it('from clients: a GET never acts (it is the page), a cross-site POST is refused, a same-origin POST acts and is logged', async () => {
    const source = fakeSource();
    const s = await page({ source }, 'alice');
    assert.match(String((await request(`${s.base}/admin/status?action=offline&stream=/x.ts`)).headers['content-type']), /text\/html/);
    const cross = await request(`${s.base}/admin/status?action=offline&stream=/x.ts`, { method: 'POST', headers: { 'Sec-Fetch-Site': 'cross-site' } });
    assert.equal(cross.status, 403);
    assert.deepEqual(json(cross), { ok: false, error: 'cross-site request refused (Sec-Fetch-Site: cross-site)' });
    assert.deepEqual(source.calls, []);
    const ok = await request(`${s.base}/admin/status?action=offline&stream=/x.ts`, { method: 'POST', headers: sameOrigin });
    assert.equal(ok.status, 200);
    assert.deepEqual(json(ok), { ok: true });
    assert.deepEqual(source.calls, ['offline /x.ts']);
    const acted = lines.find((l) => l.evt === 'status_action' && l.action === 'offline' && l.stream === '/x.ts' && l.user === 'alice');
    assert.ok(acted);
    assert.equal(acted.remote, '127.0.0.1');
    assert.equal(typeof acted.port, 'number', 'the port too, so the original\'s log format shows "ip:port"');
  });

  it('from the internal channel (forwarded): a GET with action= acts; the worker did the origin check', async () => {
    const source = fakeSource();
    const s = await page({ source, forwarded: true });
    const r = await request(`${s.base}/r/4?action=end&client=c7`);
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual(source.calls, ['end c7']);
    assert.match(String((await request(`${s.base}/r/4`)).headers['content-type']), /text\/html/);
  });

  it('without authentication the page is read-only: actions are refused, saying why', async () => {
    const source = fakeSource();
    const s = await page({ source, actions: false });
    const r = await request(`${s.base}/admin/status?action=online&stream=/x.ts`, { method: 'POST', headers: sameOrigin });
    assert.equal(r.status, 403);
    assert.match(String(json(r).error), /actions need authentication/);
    assert.deepEqual(source.calls, []);
  });

  it('answers each mistake with its status: missing target 400, unknown target 404, unknown action 400, no client rows 501, source failure 500', async () => {
    const s = await page();
    const post = async (query: string, o: Partial<StatusPageOptions> = {}) => {
      const base = Object.keys(o).length ? (await page(o)).base : s.base;
      const r = await request(`${base}/admin/status?${query}`, { method: 'POST', headers: sameOrigin });
      return [r.status, json(r).error];
    };
    assert.deepEqual(await post('action=end'), [400, 'missing client']);
    assert.deepEqual(await post('action=offline'), [400, 'missing stream']);
    assert.deepEqual(await post('action=end&client=c8'), [404, 'no such client']);
    assert.deepEqual(await post('action=offline&stream=/nope.ts'), [404, 'no such stream']);
    assert.deepEqual(await post('action=explode'), [400, 'unknown action (end, offline, online)']);
    assert.deepEqual(await post('action=end&client=c7', { source: fakeSource({ clientDetails: false }) }),
      [501, 'ending a client is not available in multi-process mode (workers > 1)']);
    assert.deepEqual(await post('action=online&stream=/x.ts', { source: fakeSource({ fail: true }) }), [500, 'source down']);
  });
});
