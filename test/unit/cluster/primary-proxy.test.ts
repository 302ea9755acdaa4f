// What a worker forwards to the primary is built from parsed values only: never a client
// header, path, query or body; the primary's answer is relayed with a fixed list of
// headers, and a primary that is gone or silent is a 502.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http, { type IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildForward, controlAction, internalAgent, primaryProxy, SECRET_HEADER } from '../../../src/cluster/primary-proxy.js';
import { request, serve } from '../../helpers/inproc.js';

const req = (method: string, url: string, headers: Record<string, string>): IncomingMessage =>
  ({ method, url, headers } as unknown as IncomingMessage);

const hostile = {
  'content-length': '27',
  'transfer-encoding': 'chunked',
  connection: 'keep-alive, x-a',
  'x-a': 'GET /control?offline HTTP/1.1',
  authorization: 'Bearer t',
  host: 'evil',
};

test('only the secret and the parsed values cross, whatever the client sent', () => {
  for (const kind of ['api', 'control', 'prometheus', 'static'] as const) {
    const f = buildForward(req('POST', '/health/../control?offline&x=%0d%0a', hostile), { secret: 's', generation: 2, resourceIndex: 3, kind });
    assert.equal(f.method, 'GET');
    assert.equal(f.path, kind === 'control' ? '/r/2/3?offline' : '/r/2/3');
    assert.deepEqual(Object.keys(f.headers), [SECRET_HEADER]);
  }
  assert.equal(buildForward(req('HEAD', '/x', {}), { secret: 's', generation: 0, resourceIndex: 0, kind: 'static' }).method, 'HEAD');
});

test('control: offline wins over online; anything else is no action', () => {
  assert.equal(controlAction('/c?online&offline'), 'offline');
  assert.equal(controlAction('/c?online'), 'online');
  assert.equal(controlAction('/c?foo'), undefined);
  assert.equal(controlAction('/c'), undefined);
});

test('prometheus: gzip only when accepted, re-emitted in a fixed form', () => {
  const f = buildForward(req('GET', '/metrics', { 'accept-encoding': 'deflate, GZip;q=0.8, x-junk-\u0000' }), { secret: 's', generation: 0, resourceIndex: 1, kind: 'prometheus' });
  assert.equal(f.headers['accept-encoding'], 'gzip');
});

test('prometheus: "*" accepts gzip here as where the metrics are answered (one rule in both processes)', () => {
  const forwarded = (ae: string) => buildForward(req('GET', '/metrics', { 'accept-encoding': ae }), { secret: 's', generation: 0, resourceIndex: 1, kind: 'prometheus' }).headers['accept-encoding'];
  assert.equal(forwarded('*'), 'gzip');
  assert.equal(forwarded('identity, *;q=0.1'), 'gzip');
  assert.equal(forwarded('*;q=0'), undefined);
  assert.equal(forwarded('gzip;q=0, *'), undefined, 'an explicit refusal wins over "*"');
});

test('static: only well-formed ETags of If-None-Match cross', () => {
  const f = buildForward(req('GET', '/a', { 'if-none-match': 'W/"0123456789abcdef", "zz", "fedcba9876543210"\r\nX: y' }), { secret: 's', generation: 0, resourceIndex: 2, kind: 'static' });
  assert.equal(f.headers['if-none-match'], '"0123456789abcdef", "fedcba9876543210"');
  assert.equal(buildForward(req('GET', '/a', { 'if-none-match': '*' }), { secret: 's', generation: 0, resourceIndex: 2, kind: 'static' }).headers['if-none-match'], '*');
  assert.equal(buildForward(req('GET', '/a', { 'if-none-match': 'junk' }), { secret: 's', generation: 0, resourceIndex: 2, kind: 'static' }).headers['if-none-match'], undefined);
});

/** A stand-in for the primary's internal server on a Unix socket: records each request, answers with `answer`. */
async function fakePrimary(t: TestContext, answer: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ socketPath: string; seen: { method?: string; url?: string; headers: http.IncomingHttpHeaders }[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'rs-proxy-'));
  const socketPath = join(dir, 'api.sock');
  const seen: { method?: string; url?: string; headers: http.IncomingHttpHeaders }[] = [];
  const server = http.createServer((rq, rs) => { seen.push({ method: rq.method, url: rq.url, headers: rq.headers }); answer(rq, rs); });
  await new Promise<void>((r) => server.listen(socketPath, r));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });
  return { socketPath, seen };
}

test('primaryProxy: the answer relayed with its status, body and the listed headers only', async (t) => {
  const p = await fakePrimary(t, (_rq, rs) => {
    rs.writeHead(418, { 'Content-Type': 'application/json', ETag: '"0123456789abcdef"', 'X-Internal': 'secret', 'Keep-Alive': 'timeout=99' }).end('{"a":1}');
  });
  const agent = internalAgent();
  t.after(() => agent.destroy());
  const s = await serve(primaryProxy({ socketPath: p.socketPath, secret: 'sec', generation: 3, resourceIndex: 2, kind: 'control', agent }));
  t.after(() => s.close());
  const r = await request(`${s.base}/control?offline&x`, { method: 'POST', headers: { cookie: 'c=1' } });
  assert.equal(r.status, 418);
  assert.equal(r.body.toString(), '{"a":1}');
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers.etag, '"0123456789abcdef"');
  assert.equal(r.headers['x-internal'], undefined);
  assert.equal(r.headers['keep-alive'], undefined, 'hop-by-hop headers stay on their hop');
  assert.deepEqual(p.seen.map((x) => [x.method, x.url, x.headers[SECRET_HEADER], x.headers.cookie]), [['GET', '/r/3/2?offline', 'sec', undefined]]);
});

test('primaryProxy with a query builder: its refusal answered here (the primary not asked), else its method and query forwarded', async (t) => {
  const p = await fakePrimary(t, (_rq, rs) => { rs.writeHead(200, { 'Content-Type': 'text/plain' }).end('from primary'); });
  const agent = internalAgent();
  t.after(() => agent.destroy());
  const query = (rq: IncomingMessage) => rq.url === '/s?bad'
    ? { ok: false as const, status: 400, error: 'missing stream' }
    : { ok: true as const, method: 'HEAD' as const, query: 'events' };
  const s = await serve(primaryProxy({ socketPath: p.socketPath, secret: 'sec', generation: 0, resourceIndex: 1, kind: 'status', agent, query }));
  t.after(() => s.close());
  const refused = await request(`${s.base}/s?bad`);
  assert.deepEqual([refused.status, refused.headers['content-type'], refused.body.toString()], [400, 'text/plain; charset=utf-8', 'missing stream\n']);
  assert.equal(p.seen.length, 0);
  await request(`${s.base}/s?events`);
  assert.deepEqual(p.seen.map((x) => [x.method, x.url]), [['HEAD', '/r/0/1?events']]);
});

test('primaryProxy: a primary that is not there, or does not answer in time: 502', async (t) => {
  const agent = internalAgent();
  t.after(() => agent.destroy());
  const gone = await serve(primaryProxy({ socketPath: join(tmpdir(), 'rs-no-such-socket.sock'), secret: 'sec', generation: 0, resourceIndex: 0, kind: 'api', agent }));
  t.after(() => gone.close());
  const r = await request(gone.base);
  assert.deepEqual([r.status, r.body.toString()], [502, '502 bad gateway']);
  const p = await fakePrimary(t, () => { /* never answers */ });
  const slow = await serve(primaryProxy({ socketPath: p.socketPath, secret: 'sec', generation: 0, resourceIndex: 0, kind: 'static', agent, timeoutMs: 50 }));
  t.after(() => slow.close());
  assert.equal((await request(slow.base)).status, 502);
  assert.equal(p.seen.length, 1);
});
