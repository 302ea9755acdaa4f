import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAuthorizer, authorizationHeader, allowedUsers, unknownUsers, type AuthResult } from '../../../src/auth/auth.js';
import type { AuthenticationConfig } from '../../../src/config/schema.js';
import { tokenHmac } from '../../../src/auth/token.js';

const userlist = {
  alice: { password: 'wonder land' },
  bob: { password: 's3cr:et' },
  carol: { password: 'tok-carol' },
  eve: { password: 'evil' },
};

function cfg(type: string, extra: Partial<AuthenticationConfig> = {}): AuthenticationConfig {
  return { type, realm: 'tv', users: [], ...extra };
}
const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;
const CHALLENGE = { 'WWW-Authenticate': 'Basic realm="tv" charset="UTF-8"' };

describe('no authentication', () => {
  for (const auth of [undefined, cfg('')]) {
    test(`allows everything (${auth ? 'type ""' : 'no stanza'})`, () => {
      const a = createAuthorizer(auth, userlist);
      for (const h of [undefined, '', 'Basic xx', basic('alice', 'wrong'), 'Bearer nope']) {
        assert.deepEqual(a(h), { ok: true });
      }
    });
  }
});

describe('basic', () => {
  const a = createAuthorizer(cfg('basic', { user: 'alice', users: ['bob'] }), userlist);
  const cases: [string, string | undefined, AuthResult][] = [
    ['no header', undefined, { ok: false, status: 401, headers: CHALLENGE }],
    ['empty header', '', { ok: false, status: 401, headers: CHALLENGE }],
    ['scheme only', 'Basic', { ok: false, status: 401, headers: CHALLENGE, wrong: true }],
    ['other scheme', 'Bearer wonder land', { ok: false, status: 401, headers: CHALLENGE, wrong: true }],
    ['not base64', 'Basic !!!!', { ok: false, status: 401, headers: CHALLENGE, wrong: true }],
    ['junk around base64', `Basic !${basic('alice', 'wonder land').slice(6)}`, { ok: false, status: 401, headers: CHALLENGE, wrong: true }],
    ['wrong user', basic('mallory', 'wonder land'), { ok: false, status: 401, headers: CHALLENGE, user: 'mallory', wrong: true }],
    ['user in userlist but not allowed', basic('eve', 'evil'), { ok: false, status: 401, headers: CHALLENGE, user: 'eve', wrong: true }],
    ['wrong password', basic('alice', 'wonder'), { ok: false, status: 401, headers: CHALLENGE, user: 'alice', wrong: true }],
    ['other allowed user\'s password', basic('alice', 's3cr:et'), { ok: false, status: 401, headers: CHALLENGE, user: 'alice', wrong: true }],
    ['right (user)', basic('alice', 'wonder land'), { ok: true, user: 'alice' }],
    ['right (users list, colon in password)', basic('bob', 's3cr:et'), { ok: true, user: 'bob' }],
    ['case-insensitive scheme', `bAsIc ${basic('bob', 's3cr:et').slice(6)}`, { ok: true, user: 'bob' }],
    ['extra whitespace', `  Basic   ${basic('bob', 's3cr:et').slice(6)}  `, { ok: true, user: 'bob' }],
  ];
  for (const [name, header, want] of cases) {
    test(name, () => assert.deepEqual(a(header), want));
  }

  test('realm is quoted safely', () => {
    const r = createAuthorizer(cfg('basic', { realm: 'a "b" \\c', user: 'alice' }), userlist)(undefined);
    assert.equal(r.ok, false);
    assert.equal(r.headers['WWW-Authenticate'], 'Basic realm="a \\"b\\" \\\\c" charset="UTF-8"');
  });

  test('no allowed users admits nobody', () => {
    const r = createAuthorizer(cfg('basic', { users: ['nosuchuser'] }), userlist)(basic('nosuchuser', ''));
    assert.equal(r.ok, false);
    assert.equal(r.status, 401);
  });
});

describe('bearer', () => {
  const a = createAuthorizer(cfg('bearer', { user: 'carol', users: ['alice'] }), userlist);
  const F: AuthResult = { ok: false, status: 403, headers: {} };
  // Credentials were sent and were wrong: brute-force protection counts these.
  const W: AuthResult = { ...F, wrong: true };
  const cases: [string, string | undefined, AuthResult][] = [
    ['no header', undefined, F],
    ['blank header', ' ', F],
    ['scheme only', 'Bearer ', W],
    ['other scheme', basic('carol', 'tok-carol'), W],
    ['wrong token', 'Bearer tok-caro', W],
    ['token of a user not allowed', 'Bearer evil', W],
    ['token = user name', 'Bearer carol', W],
    ['right (user)', 'Bearer tok-carol', { ok: true, user: 'carol' }],
    ['right (users list, token with a space)', 'Bearer wonder land', { ok: true, user: 'alice' }],
    ['case-insensitive scheme', 'bearer tok-carol', { ok: true, user: 'carol' }],
  ];
  for (const [name, header, want] of cases) {
    test(name, () => assert.deepEqual(a(header), want));
  }
});

describe('token', () => {
  const key = '00112233445566778899aabbccddeeff';
  const now = 1_700_000_000;
  const a = createAuthorizer(cfg('token', { key }), userlist, () => now * 1000);
  const fields = `exp=${now + 60}~acl=/live/*`;
  const good = encodeURIComponent(`${fields}~hmac=${tokenHmac(Buffer.from(key, 'hex'), fields)}`);
  const F = { ok: false, status: 403, headers: {} } as const;
  const cases: [string, string, AuthResult][] = [
    ['valid', `/live/a.ts?token=${good}`, { ok: true }],
    ['valid, absolute-form target', `http://host/live/a.ts?x=1&token=${good}`, { ok: true }],
    ['valid, percent-encoded path', `/live/a%2Ets?token=${good}`, { ok: true }],
    ['missing (no query)', '/live/a.ts', { ...F, reason: 'missing' }],
    ['wrong path', `/vod/a.ts?token=${good}`, { ...F, reason: 'wrong_path' }],
    ['tampered counts as wrong', `/live/a.ts?token=${good.slice(0, -1)}0`, { ...F, reason: 'tampered', wrong: true }],
    ['malformed counts as wrong', '/live/a.ts?token=junk', { ...F, reason: 'malformed', wrong: true }],
  ];
  for (const [name, target, want] of cases) {
    test(name, () => assert.deepEqual(a(undefined, { target, address: '192.0.2.1' }), want));
  }
  test('the Authorization header plays no part; without a request nothing passes', () => {
    assert.deepEqual(a('Bearer anything'), { ...F, reason: 'missing' });
  });
  test('param names the query parameter', () => {
    const b = createAuthorizer(cfg('token', { key, param: '__token__' }), userlist, () => now * 1000);
    assert.equal(b(undefined, { target: `/live/a?__token__=${good}`, address: undefined }).ok, true);
    assert.equal(b(undefined, { target: `/live/a?token=${good}`, address: undefined }).ok, false);
  });
});

describe('unknown type', () => {
  for (const type of ['digest', 'Basic', 'none']) {
    test(`"${type}" denies everything with 403`, () => {
      const a = createAuthorizer(cfg(type, { user: 'alice' }), userlist);
      for (const h of [undefined, basic('alice', 'wonder land'), 'Bearer wonder land']) {
        assert.deepEqual(a(h), { ok: false, status: 403, headers: {} });
      }
    });
  }
});

test('allowedUsers / unknownUsers', () => {
  const auth = { user: 'alice', users: ['bob', 'alice', 'ghost'] };
  assert.deepEqual(allowedUsers(auth, userlist), ['alice', 'bob']);
  assert.deepEqual(unknownUsers(auth, userlist), ['ghost']);
});

test('authorizationHeader (notifications)', () => {
  assert.equal(authorizationHeader('basic', 'bob', userlist), basic('bob', 's3cr:et'));
  assert.equal(authorizationHeader('bearer', 'carol', userlist), 'Bearer tok-carol');
  assert.equal(authorizationHeader('bearer', 'ghost', userlist), undefined);
  assert.equal(authorizationHeader('digest', 'bob', userlist), undefined);
  assert.equal(authorizationHeader('basic', undefined, userlist), undefined);
});

// The same checks through a real HTTP exchange: what a client sends and receives.
test('over HTTP: status and WWW-Authenticate as a client sees them', async () => {
  const authorizers = {
    '/none': createAuthorizer(undefined, userlist),
    '/basic': createAuthorizer(cfg('basic', { user: 'alice', users: ['bob'] }), userlist),
    '/bearer': createAuthorizer(cfg('bearer', { user: 'carol' }), userlist),
    '/unknown': createAuthorizer(cfg('md5', { user: 'alice' }), userlist),
  } as Record<string, ReturnType<typeof createAuthorizer>>;
  const server = http.createServer((req, res) => {
    const r = authorizers[req.url!]!(req.headers.authorization);
    if (r.ok) res.writeHead(200, { 'x-user': r.user ?? '' }).end('ok');
    else res.writeHead(r.status, r.headers).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const get = async (path: string, authorization?: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: authorization ? { authorization } : {} });
    await res.arrayBuffer();
    return { status: res.status, www: res.headers.get('www-authenticate'), user: res.headers.get('x-user') };
  };
  try {
    assert.deepEqual(await get('/none'), { status: 200, www: null, user: '' });
    assert.deepEqual(await get('/basic'), { status: 401, www: 'Basic realm="tv" charset="UTF-8"', user: null });
    assert.deepEqual(await get('/basic', basic('bob', 'nope')), { status: 401, www: 'Basic realm="tv" charset="UTF-8"', user: null });
    assert.deepEqual(await get('/basic', basic('bob', 's3cr:et')), { status: 200, www: null, user: 'bob' });
    assert.deepEqual(await get('/bearer'), { status: 403, www: null, user: null });
    assert.deepEqual(await get('/bearer', 'Bearer nope'), { status: 403, www: null, user: null });
    assert.deepEqual(await get('/bearer', 'Bearer tok-carol'), { status: 200, www: null, user: 'carol' });
    assert.deepEqual(await get('/unknown', basic('alice', 'wonder land')), { status: 403, www: null, user: null });
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
