// Signed, expiring URLs and brute-force protection through the real CLI, in one process
// (workers: 1) and with a primary and two workers (workers: 2): each kind of token
// failure is refused with 403 and its access line gives the reason (never the token);
// the access log hides query strings; the recipes of docs/security.md make tokens the proxy takes;
// 11 wrong passwords block an address (429, even with the right password) for the whole
// instance while another address logs in, and the block ends.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startProxy, StreamClient, type ProxyProcess } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';
import { fixtureTs, PacedServer, tsByteRate } from '../helpers/upstream.js';

const cleanups: (() => unknown)[] = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const KEY = 'a3f1c2d4e5b60718293a4b5c6d7e8f90a1b2c3d4e5f60718';
const now = () => Math.floor(Date.now() / 1000);
function token(fields: string): string {
  return `${fields}~hmac=${createHmac('sha256', Buffer.from(KEY, 'hex')).update(fields).digest('hex')}`;
}
const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

/** One request on a fresh connection from `localAddress`; its status and headers, body discarded. */
function get(url: string, o: { localAddress?: string; authorization?: string; method?: string } = {}): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, method: o.method ?? 'GET', localAddress: o.localAddress, headers: o.authorization ? { authorization: o.authorization } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve(res));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The two recipes of docs/security.md, run as written, with KEY in the environment. */
function docRecipes(): { openssl: string; node: string } {
  const doc = readFileSync(join(ROOT, 'docs/security.md'), 'utf8');
  const sh = /```sh\n(t="exp=[\s\S]*?)```/.exec(doc)?.[1];
  const js = /```js\n(const \{ createHmac \}[\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(sh !== undefined && js !== undefined, 'the recipes are in docs/security.md');
  assert.equal(sh.trim().split('\n').length, 2, 'openssl: two lines');
  assert.equal(js.trim().split('\n').length, 5, 'Node: five lines');
  const env = { ...process.env, KEY };
  return {
    openssl: execFileSync('bash', ['-c', sh], { env, encoding: 'utf8' }).trim(),
    node: execFileSync(process.execPath, ['-e', js], { env, encoding: 'utf8' }).trim(),
  };
}

async function start(workers: number): Promise<ProxyProcess> {
  const up = new PacedServer(readFileSync(fixtureTs()), tsByteRate(fixtureTs()));
  await up.start();
  cleanups.push(() => up.stop());
  const p = await startProxy({
    workers,
    authfailures: 10, authwindow: 60, authblock: 1,
    userlist: { alice: { password: 'alice-secret' } },
    resources: [
      { type: 'stream', serve: '/live/one.ts', remote: up.url(), authentication: { type: 'token', key: KEY } },
      { type: 'api', api: 'health', serve: '/live/health', authentication: { type: 'token', key: KEY, param: '__token__' } },
      { type: 'api', api: 'health', serve: '/lively', authentication: { type: 'token', key: KEY } },
      { type: 'api', api: 'health', serve: '/private', authentication: { type: 'basic', realm: 'r', user: 'alice' } },
    ],
  }, { waitStreams: true });
  cleanups.push(() => p.stop());
  return p;
}

async function tokens(p: ProxyProcess): Promise<void> {
  const live = token(`exp=${now() + 600}~acl=/live/*`);
  const q = (t: string) => `?token=${encodeURIComponent(t)}`;
  // Valid: a stream plays; the docs' recipes make tokens that pass.
  const c = new StreamClient(p.url(`/live/one.ts${q(live)}`), { keep: false });
  cleanups.push(() => c.close());
  await c.responded;
  assert.equal(c.status, 200);
  await until(() => c.bytes > 0, 10_000, 'stream data with a valid token');
  c.close();
  const recipes = docRecipes();
  assert.equal((await get(p.url(`/live/one.ts${q(recipes.openssl)}`), { method: 'HEAD' })).statusCode, 200, 'openssl recipe');
  assert.equal((await get(p.url(`/live/one.ts${q(recipes.node)}`), { method: 'HEAD' })).statusCode, 200, 'Node recipe');
  assert.equal((await get(p.url(`/live/health?__token__=${encodeURIComponent(live)}`))).statusCode, 200, 'param names the parameter');

  const refused: [string, string, string][] = [
    ['missing', '/live/health', 'missing'],
    ['other parameter name', `/live/health${q(live)}`, 'missing'],
    ['malformed', '/live/one.ts?token=exp=1~acl=/live/*', 'malformed'],
    ['tampered', `/live/one.ts${q(live.replace('acl=/live/*', 'acl=/*'))}`, 'tampered'],
    ['expired', `/live/one.ts${q(token(`exp=${now() - 1}~acl=/live/*`))}`, 'expired'],
    ['not yet valid', `/live/one.ts${q(token(`st=${now() + 600}~exp=${now() + 900}~acl=/live/*`))}`, 'not_yet_valid'],
    ['prefix does not cover a sibling', `/lively${q(live)}`, 'wrong_path'],
    ['wrong address', `/live/one.ts${q(token(`ip=127.0.0.2~exp=${now() + 600}~acl=/live/*`))}`, 'wrong_address'],
  ];
  for (const [what, path, reason] of refused) {
    // From an address of its own: malformed and tampered tokens count as wrong credentials.
    const res = await get(p.url(path), { localAddress: '127.0.0.3' });
    assert.equal(res.statusCode, 403, what);
    await p.waitLog((l) => l.evt === 'access' && l.status === 403 && l.reason === reason, 10_000);
  }
  // ip= passes from that address only.
  const bound = token(`ip=127.0.0.2~exp=${now() + 600}~acl=/live/*`);
  assert.equal((await get(p.url(`/live/one.ts${q(bound)}`), { method: 'HEAD', localAddress: '127.0.0.2' })).statusCode, 200);
  // No token reaches the log; every access line's query is redacted.
  await until(() => p.logs.filter((l) => l.evt === 'access').length >= 13, 10_000, 'access lines');
  const logged = JSON.stringify(p.logs);
  assert.ok(!logged.includes('hmac'), 'no token in the log');
  const paths = p.logs.filter((l) => l.evt === 'access').map((l) => String(l.path));
  assert.ok(paths.includes('/live/one.ts?***'), paths.join());
  assert.ok(paths.every((x) => !x.includes('?') || x.endsWith('?***')), paths.join());
}

async function bruteForce(p: ProxyProcess): Promise<void> {
  const url = p.url('/private');
  const right = basic('alice', 'alice-secret');
  // Requests without credentials (a browser's first) never count.
  for (let i = 0; i < 15; i++) assert.equal((await get(url)).statusCode, 401);
  for (let i = 0; i < 11; i++) {
    const res = await get(url, { authorization: basic('alice', `guess-${i}`) });
    assert.equal(res.statusCode, 401, `guess ${i}`);
    assert.equal(res.headers['www-authenticate'], 'Basic realm="r" charset="UTF-8"');
  }
  // Logged once; a connection accepted after this line is handed over after the block.
  await p.waitLog((l) => l.evt === 'auth_blocked' && l.remote === '127.0.0.1', 10_000);
  for (let i = 0; i < 4; i++) assert.equal((await get(url, { authorization: right })).statusCode, 429, 'even the right password');
  assert.equal((await get(url, { localAddress: '127.0.0.2', authorization: right })).statusCode, 200, 'another address logs in');
  assert.equal(p.logs.filter((l) => l.evt === 'auth_blocked').length, 1, 'one line per block');
  // authblock is 1 s: the block ends.
  await until(async () => (await get(url, { authorization: right })).statusCode === 200, 10_000, 'the block ends');
}

for (const workers of [1, 2]) {
  test(`workers: ${workers}: signed URLs and brute-force protection`, async () => {
    const p = await start(workers);
    await tokens(p);
    await bruteForce(p);
    await p.stop();
  });
}
