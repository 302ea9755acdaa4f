// What a worker forwards to the primary is built from parsed values only: never a client
// header, path, query or body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { buildForward, controlAction, SECRET_HEADER } from '../../../src/cluster/primary-proxy.js';

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
