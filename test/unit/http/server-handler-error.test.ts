// A route handler that throws: the client gets a 500 (or, once its response has begun,
// a closed connection), and the exception is logged with the resource, code and stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/log/logger.js';
import { HttpFront } from '../../../src/http/server.js';
import { RestreamerError } from '../../../src/errors.js';

async function withFront(fn: (port: number, lines: Record<string, unknown>[]) => Promise<void>): Promise<void> {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); cb(); } });
  const log = createLogger({ stream: sink, level: 'info' }).logger;
  const front = new HttpFront(undefined, { log });
  front.route('/boom', () => { throw new RestreamerError('UPSTREAM_IO', 'handler exploded'); });
  front.route('/late/', (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write('partial');
    throw new TypeError('late failure');
  });
  const { port } = await front.listen('127.0.0.1', 0);
  try {
    await fn(port, lines);
  } finally {
    await front.close(0);
  }
}

/** GET, resolving with the status and body, or with the error that cut the response. */
function get(port: number, path: string): Promise<{ status?: number; body?: string; error?: Error }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', (error) => resolve({ status: res.statusCode, error }));
    });
    req.on('error', (error) => resolve({ error }));
  });
}

test('a handler that throws before answering: 500, and one http_error line with the resource, code and stack', async () => {
  await withFront(async (port, lines) => {
    const r = await get(port, '/boom?x=1');
    assert.equal(r.status, 500);
    assert.match(r.body ?? '', /500 internal server error/);
    const logged = lines.filter((l) => l.evt === 'http_error');
    assert.equal(logged.length, 1, JSON.stringify(lines));
    assert.equal(logged[0]!.resource, '/boom');
    assert.equal(logged[0]!.path, '/boom?x=1');
    assert.equal(logged[0]!.code, 'UPSTREAM_IO');
    assert.equal(logged[0]!.err, 'handler exploded');
    assert.match(String(logged[0]!.stack), /handler exploded\n\s+at /);
    assert.equal(logged[0]!.level, 50);
  });
});

test('a handler that throws after its response began: the connection is cut (no 500 written into the body), and it is logged', async () => {
  await withFront(async (port, lines) => {
    const r = await get(port, '/late/x');
    // Whether the headers reached the client before the cut is up to the kernel.
    assert.ok(r.error, `the response must not end normally, got ${r.status} ${JSON.stringify(r.body)}`);
    assert.notEqual(r.status, 500);
    const logged = lines.find((l) => l.evt === 'http_error');
    assert.ok(logged, JSON.stringify(lines));
    assert.equal(logged.resource, '/late/');
    assert.equal(logged.code, undefined);
    assert.match(String(logged.stack), /TypeError: late failure/);
  });
});
