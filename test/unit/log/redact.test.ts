import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactQuery, redactUrl } from '../../../src/log/redact.js';

test('redactUrl: the password of a URL is replaced, the rest kept', () => {
  assert.equal(redactUrl('http://user:secret@example.com:8080/a.ts?x=1'), 'http://user:***@example.com:8080/a.ts?x=1');
  assert.equal(redactUrl(new URL('https://u:p%40ss@h/x')), 'https://u:***@h/x');
  assert.equal(redactUrl('http://user@example.com/a.ts'), 'http://user@example.com/a.ts');
  assert.equal(redactUrl('udp://239.0.0.1:5000'), 'udp://239.0.0.1:5000');
});

test('redactUrl: a string that is not a URL keeps its password hidden', () => {
  // Each of these fails to parse (bad port, bad host, spaces), yet names a password.
  assert.equal(redactUrl('http://user:secret@host:99999/x'), 'http://user:***@host:99999/x');
  assert.equal(redactUrl('http://user:se@cret@[bad/x?q'), 'http://user:***@[bad/x?q');
  assert.equal(redactUrl('HTTP:\\\\user:secret@ho st'), 'HTTP:\\\\user:***@ho st');
  for (const s of ['not a url', 'http://[bad', 'http://host:99999/a:b@c', 'mailto:x']) assert.equal(redactUrl(s), s);
});

test('redactQuery: the query of a request target is hidden, the path kept', () => {
  assert.equal(redactQuery('/live.ts?token=exp=1~acl=/*~hmac=ab'), '/live.ts?***');
  assert.equal(redactQuery('/live.ts?'), '/live.ts?***');
  assert.equal(redactQuery('/live.ts'), '/live.ts');
  assert.equal(redactQuery(undefined), undefined);
});
