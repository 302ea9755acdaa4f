// The primary's internal server: only secret-bearing, bodyless GET/HEAD requests for a
// resource of the running configuration are answered; a handler that fails is logged as
// the front logs it (http_error) and answered 500, never swallowed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrimaryApiServer, type InternalHandler } from '../../../src/cluster/primary-api.js';
import { SECRET_HEADER } from '../../../src/cluster/primary-proxy.js';
import { RestreamerError } from '../../../src/errors.js';
import { capturedLogger, type LogLine } from '../../helpers/inproc.js';

interface Reply { status?: number; headers?: http.IncomingHttpHeaders; body?: string; error?: Error }

async function withServer(routes: Record<number, InternalHandler>, fn: (ask: (path: string, headers?: Record<string, string>, method?: string) => Promise<Reply>, lines: LogLine[]) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rs-api-'));
  const socketPath = join(dir, 'api.sock');
  const { log, lines } = capturedLogger();
  const server = new PrimaryApiServer('s3cret', log);
  server.setRoutes(2, new Map(Object.entries(routes).map(([k, handle]) => [Number(k), { serve: `/res${k}`, handle }])));
  await server.listen(socketPath);
  const ask = (path: string, headers: Record<string, string> = { [SECRET_HEADER]: 's3cret' }, method = 'GET') => new Promise<Reply>((resolve) => {
    const req = http.request({ socketPath, path, method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      res.on('error', (error) => resolve({ status: res.statusCode, error }));
    });
    req.on('error', (error) => resolve({ error }));
    req.end();
  });
  try {
    await fn(ask, lines);
  } finally {
    await server.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const ok: InternalHandler = (req, res) => { res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`ok ${req.url ?? ''}`); };

test('a resource of the running configuration, by index, with the secret: its handler answers', async () => {
  await withServer({ 0: ok, 3: ok }, async (ask) => {
    const r = await ask('/r/2/3?offline');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'ok /r/2/3?offline');
    assert.equal((await ask('/r/2/0', undefined, 'HEAD')).status, 200);
  });
});

test('no secret, a wrong one, an unknown index, a body or another method: 403 and the connection closed', async () => {
  await withServer({ 0: ok }, async (ask) => {
    for (const [path, headers, method] of [
      ['/r/2/0', {}, 'GET'],
      ['/r/2/0', { [SECRET_HEADER]: 's3creT' }, 'GET'],
      ['/r/2/1', { [SECRET_HEADER]: 's3cret' }, 'GET'],
      ['/x/2/0', { [SECRET_HEADER]: 's3cret' }, 'GET'],
      ['/r/2/0', { [SECRET_HEADER]: 's3cret', 'content-length': '0' }, 'GET'],
      ['/r/2/0', { [SECRET_HEADER]: 's3cret' }, 'DELETE'],
    ] as const) {
      const r = await ask(path, headers, method);
      assert.equal(r.status, 403, `${method} ${path} ${JSON.stringify(headers)}`);
      assert.equal(r.body, '403 forbidden');
      assert.equal(r.headers?.connection, 'close');
    }
  });
});

test('a request made under another configuration generation: 503 with Retry-After (the worker retries)', async () => {
  await withServer({ 0: ok }, async (ask) => {
    const r = await ask('/r/1/0');
    assert.equal(r.status, 503);
    assert.equal(r.headers?.['retry-after'], '1');
    assert.equal(r.body, '503 configuration reloading');
  });
});

test('a handler that throws: 500, and one http_error line with the resource, code and stack', async () => {
  await withServer({ 4: () => { throw new RestreamerError('UPSTREAM_IO', 'handler exploded'); } }, async (ask, lines) => {
    const r = await ask('/r/2/4?x');
    assert.equal(r.status, 500);
    assert.equal(r.body, '500 internal server error');
    const logged = lines.filter((l) => l.evt === 'http_error');
    assert.equal(logged.length, 1, JSON.stringify(lines));
    assert.equal(logged[0]!.resource, '/res4');
    assert.equal(logged[0]!.path, '/r/2/4?***', 'the query redacted, as the front logs it');
    assert.equal(logged[0]!.code, 'UPSTREAM_IO');
    assert.equal(logged[0]!.err, 'handler exploded');
    assert.match(String(logged[0]!.stack), /handler exploded\n\s+at /);
    assert.equal(logged[0]!.level, 50);
  });
});

test('a handler whose promise rejects (an API waiting for the workers\' counters): 500 and logged, never an unhandled rejection', async () => {
  await withServer({ 1: async () => { await Promise.resolve(); throw new TypeError('late bug'); } }, async (ask, lines) => {
    const r = await ask('/r/2/1');
    assert.equal(r.status, 500);
    assert.equal(r.body, '500 internal server error');
    const logged = lines.find((l) => l.evt === 'http_error');
    assert.ok(logged, JSON.stringify(lines));
    assert.equal(logged.resource, '/res1');
    assert.match(String(logged.stack), /TypeError: late bug/);
  });
});

test('a handler that throws after its answer began: the connection is cut (no 500 text in its body), and it is logged', async () => {
  await withServer({ 0: (_req, res) => { res.writeHead(200, { 'Content-Type': 'text/plain' }); res.write('partial'); throw new Error('midway'); } }, async (ask, lines) => {
    const r = await ask('/r/2/0');
    assert.ok(r.error, `the answer must not end normally, got ${String(r.status)} ${JSON.stringify(r.body)}`);
    assert.ok(lines.some((l) => l.evt === 'http_error' && l.err === 'midway'), JSON.stringify(lines));
  });
});
