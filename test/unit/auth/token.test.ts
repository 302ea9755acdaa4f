// Signed, expiring URLs (EdgeAuth layout): each way a token fails, ACL prefixes, the
// address binding, and a fuzz that no string passes without the key or throws.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { aclCovers, checkToken, plainAddress, tokenHmac, tokenParam, type TokenRequest } from '../../../src/auth/token.js';

const KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const NOW = 1_700_000_000;
const at = (path: string, address = '192.0.2.7', nowS = NOW): TokenRequest => ({ path, address, nowMs: nowS * 1000 + 500 });
const sign = (fields: string, key = KEY) => `${fields}~hmac=${tokenHmac(key, fields)}`;

describe('checkToken', () => {
  const valid = sign(`st=${NOW - 10}~exp=${NOW + 60}~acl=/live/*`);

  test('a valid token passes, fields in any order, id= and data= ignored', () => {
    assert.deepEqual(checkToken(valid, KEY, at('/live/one.ts')), { ok: true });
    assert.deepEqual(checkToken(sign(`acl=/live/one.ts~id=x~exp=${NOW + 1}~data=a=b`), KEY, at('/live/one.ts')), { ok: true });
  });

  const refused: [string, string | undefined, TokenRequest, string][] = [
    ['missing', undefined, at('/live/a'), 'missing'],
    ['empty', '', at('/live/a'), 'missing'],
    ['no hmac', `exp=${NOW + 60}~acl=/live/*`, at('/live/a'), 'malformed'],
    ['hmac not hex', `exp=${NOW + 60}~acl=/live/*~hmac=zz`, at('/live/a'), 'malformed'],
    ['hmac upper case', valid.replace(/hmac=(\w+)/, (_, h: string) => `hmac=${h.toUpperCase()}`), at('/live/a'), 'malformed'],
    ['no exp', sign('acl=/live/*'), at('/live/a'), 'malformed'],
    ['no acl', sign(`exp=${NOW + 60}`), at('/live/a'), 'malformed'],
    ['unknown field', sign(`exp=${NOW + 60}~acl=/live/*~foo=1`), at('/live/a'), 'malformed'],
    ['repeated field', sign(`exp=${NOW + 60}~acl=/live/*~exp=${NOW + 999}`), at('/live/a'), 'malformed'],
    ['exp not a number', sign('exp=soon~acl=/live/*'), at('/live/a'), 'malformed'],
    ['star inside an acl', sign(`exp=${NOW + 60}~acl=/li*ve/a`), at('/live/a'), 'malformed'],
    ['tampered exp', valid.replace(`exp=${NOW + 60}`, `exp=${NOW + 6000}`), at('/live/a'), 'tampered'],
    ['tampered acl', valid.replace('acl=/live/*', 'acl=/*'), at('/live/a'), 'tampered'],
    ['other key', sign(`exp=${NOW + 60}~acl=/live/*`, Buffer.alloc(16, 1)), at('/live/a'), 'tampered'],
    ['expired', valid, at('/live/a', undefined, NOW + 60), 'expired'],
    ['not yet valid', valid, at('/live/a', undefined, NOW - 11), 'not_yet_valid'],
    ['wrong path', valid, at('/vod/a'), 'wrong_path'],
    ['wrong address', sign(`ip=192.0.2.8~exp=${NOW + 60}~acl=/live/*`), at('/live/a'), 'wrong_address'],
  ];
  for (const [name, token, req, reason] of refused) {
    test(`${name}: refused as ${reason}`, () => assert.deepEqual(checkToken(token, KEY, req), { ok: false, reason }));
  }

  test('valid from st to just before exp', () => {
    const t = sign(`st=${NOW}~exp=${NOW + 2}~acl=/a`);
    assert.equal(checkToken(t, KEY, at('/a', undefined, NOW)).ok, true);
    assert.equal(checkToken(t, KEY, at('/a', undefined, NOW + 1)).ok, true);
    assert.equal(checkToken(t, KEY, at('/a', undefined, NOW + 2)).ok, false);
  });

  test('ip= passes only from that address (an IPv4-mapped IPv6 client included)', () => {
    const t = sign(`ip=192.0.2.7~exp=${NOW + 60}~acl=/a`);
    assert.equal(checkToken(t, KEY, at('/a', '192.0.2.7')).ok, true);
    assert.equal(checkToken(t, KEY, at('/a', '::ffff:192.0.2.7')).ok, true);
    const v6 = sign(`ip=2001:DB8:0:0::7~exp=${NOW + 60}~acl=/a`);
    assert.equal(checkToken(v6, KEY, at('/a', '2001:db8::7')).ok, true, 'IPv6 in another spelling');
    assert.equal(checkToken(v6, KEY, at('/a', '2001:db8::8')).ok, false);
    assert.equal(checkToken(sign(`ip=fe80::1%eth0~exp=${NOW + 60}~acl=/a`), KEY, at('/a', 'fe80::1%eth0')).ok, true, 'a zone');
    for (const other of ['192.0.2.70', '192.0.2.8', '::1', undefined]) {
      assert.deepEqual(checkToken(t, KEY, { ...at('/a'), address: other }), { ok: false, reason: 'wrong_address' }, String(other));
    }
  });

  test('several ACLs joined by !', () => {
    const t = sign(`exp=${NOW + 60}~acl=/a.ts!/b/*`);
    for (const p of ['/a.ts', '/b/', '/b/c.ts']) assert.equal(checkToken(t, KEY, at(p)).ok, true, p);
    for (const p of ['/a.tsx', '/b', '/c']) assert.equal(checkToken(t, KEY, at(p)).ok, false, p);
  });
});

test('aclCovers: a prefix covers its subtree and nothing beside it', () => {
  assert.equal(aclCovers('/a/*', '/a/b'), true);
  assert.equal(aclCovers('/a/*', '/a/b/c'), true);
  assert.equal(aclCovers('/a/*', '/ab'), false);
  assert.equal(aclCovers('/a/*', '/a'), false);
  assert.equal(aclCovers('/a', '/a'), true);
  assert.equal(aclCovers('/a', '/a/b'), false);
  assert.equal(aclCovers('/*', '/anything'), true);
});

test('tokenParam reads the named parameter, URL-decoded once', () => {
  assert.equal(tokenParam('/a?x=1&token=exp%3D1~acl%3D/a', 'token'), 'exp=1~acl=/a');
  assert.equal(tokenParam('/a?__token__=t', '__token__'), 't');
  assert.equal(tokenParam('/a?token=t#frag', 'token'), 't');
  assert.equal(tokenParam('/a', 'token'), undefined);
  assert.equal(tokenParam('/a?other=1', 'token'), undefined);
});

test('plainAddress: IPv4-mapped IPv6 as IPv4', () => {
  assert.equal(plainAddress('::ffff:10.0.0.1'), '10.0.0.1');
  assert.equal(plainAddress('::1'), '::1');
  assert.equal(plainAddress(undefined), undefined);
});

describe('fuzz', () => {
  const req = at('/live/a');
  // Strings built from the token's own alphabet, so the parser sees near-misses, not only noise.
  const piece = fc.oneof(
    fc.constantFrom('ip=', 'st=', 'exp=', 'acl=', 'id=', 'data=', '~', '!', '*', '/live/', '~hmac=', '='),
    fc.integer({ min: NOW - 100, max: NOW + 100 }).map(String),
    fc.stringMatching(/^[0-9a-f]{64}$/),
    fc.string({ maxLength: 8 }),
  );
  const tokens = fc.oneof(fc.string({ maxLength: 200 }), fc.array(piece, { maxLength: 20 }).map((a) => a.join('')));

  test('random strings never throw and never pass without the key', () => {
    fc.assert(fc.property(tokens, (t) => {
      const r = checkToken(t, KEY, req);
      assert.equal(r.ok, false);
    }), { numRuns: 3000 });
  });

  test('a valid token with any one character changed never passes', () => {
    const valid = sign(`exp=${NOW + 60}~acl=/live/*`);
    fc.assert(fc.property(fc.nat({ max: valid.length - 1 }), fc.string({ minLength: 1, maxLength: 1 }), (i, c) => {
      fc.pre(valid[i] !== c);
      const changed = valid.slice(0, i) + c + valid.slice(i + 1);
      assert.equal(checkToken(changed, KEY, req).ok, false);
    }), { numRuns: 2000 });
  });
});
