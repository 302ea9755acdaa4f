// Accept-Encoding: one rule for the process that answers a scrape and the worker that
// forwards it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptsGzip } from '../../../src/http/encoding.js';

test('gzip listed, with a q-value above 0 (case-insensitive, x-gzip too)', () => {
  assert.equal(acceptsGzip('gzip'), true);
  assert.equal(acceptsGzip('gzip, deflate'), true);
  assert.equal(acceptsGzip('GZIP;q=0.5'), true);
  assert.equal(acceptsGzip('br;q=1, GZip ; q=0.5'), true);
  assert.equal(acceptsGzip('x-gzip'), true);
  assert.equal(acceptsGzip('gzip;q=0'), false);
  assert.equal(acceptsGzip('gzip;q=0.000'), false);
  assert.equal(acceptsGzip('gzip;q=junk'), false, 'an unreadable q-value is no consent');
});

test('"*" accepts gzip unless its q is 0 or gzip is refused by name', () => {
  assert.equal(acceptsGzip('*'), true);
  assert.equal(acceptsGzip('identity, *;q=0.1'), true);
  assert.equal(acceptsGzip('*;q=0'), false);
  assert.equal(acceptsGzip('gzip;q=0, *'), false, 'an explicit refusal wins over "*"');
  assert.equal(acceptsGzip('*, gzip;q=0'), false, 'whatever the order');
  assert.equal(acceptsGzip('*;q=0, gzip'), true);
});

test('nothing, or only other codings: no gzip', () => {
  assert.equal(acceptsGzip(undefined), false);
  assert.equal(acceptsGzip(''), false);
  assert.equal(acceptsGzip('identity'), false);
  assert.equal(acceptsGzip('deflate, br'), false);
  assert.equal(acceptsGzip('gzipx, xgzip'), false);
});
