// The authentication and access-log wrappers in-process: real handlers on a real
// node:http server on port 0, a real client, the access lines read from a pino logger.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { requireAuth, withAccessLog } from '../../../src/http/access.js';
import { createAuthorizer, type Userlist } from '../../../src/auth/auth.js';
import { AddressGuard } from '../../../src/auth/guard.js';
import { tokenHmac } from '../../../src/auth/token.js';
import { capturedLogger, request, serve, type Handler } from '../../helpers/inproc.js';
import { until } from '../../helpers/wait.js';
import { createLogger } from '../../../src/log/logger.js';

const USERS: Userlist = { alice: { password: 'wonderland' }, bob: { password: 'builder' } };
const basic = createAuthorizer({ type: 'basic', realm: 'Tests "here"', users: ['alice'] }, USERS);
const bearer = createAuthorizer({ type: 'bearer', realm: '', users: ['bob'] }, USERS);
const TOKEN_KEY = '00112233445566778899aabbccddeeff';
const token = createAuthorizer({ type: 'token', realm: '', users: [], key: TOKEN_KEY, param: 'tk' }, USERS);
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** A resource answering "hello" that records whether it was reached. */
function hello(): { h: Handler; reached: number } {
  const r = { reached: 0, h: ((_req, res) => { r.reached++; res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '5' }).end('hello'); }) as Handler };
  return r;
}

test('basic: no or wrong credentials get 401 with the challenge and no body; the resource is never reached', async () => {
  const r = hello();
  const s = await serve(requireAuth(r.h, basic));
  try {
    for (const authorization of [undefined, `Basic ${b64('alice:wrong')}`, `Basic ${b64('bob:builder')}`, 'Basic !!!', `Bearer ${b64('alice:wonderland')}`]) {
      const a = await request(`${s.base}/x`, { headers: authorization === undefined ? {} : { authorization } });
      assert.equal(a.status, 401, String(authorization));
      assert.equal(a.headers['www-authenticate'], 'Basic realm="Tests \\"here\\"" charset="UTF-8"');
      assert.equal(a.headers['content-length'], '0');
      assert.equal(a.body.length, 0);
    }
    assert.equal(r.reached, 0);
    const ok = await request(`${s.base}/x`, { headers: { authorization: `Basic ${b64('alice:wonderland')}` } });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.toString(), 'hello');
    assert.equal(r.reached, 1);
  } finally { await s.close(); }
});

test('bearer: a wrong or missing token gets 403 without a challenge; the right one passes', async () => {
  const r = hello();
  const s = await serve(requireAuth(r.h, bearer));
  try {
    for (const authorization of [undefined, 'Bearer nope', 'Bearer wonderland', `Basic ${b64('bob:builder')}`]) {
      const a = await request(`${s.base}/x`, { headers: authorization === undefined ? {} : { authorization } });
      assert.equal(a.status, 403, String(authorization));
      assert.equal(a.headers['www-authenticate'], undefined);
      assert.equal(a.body.length, 0);
    }
    assert.equal(r.reached, 0);
    assert.equal((await request(`${s.base}/x`, { headers: { authorization: 'Bearer builder' } })).status, 200);
    assert.equal(r.reached, 1);
  } finally { await s.close(); }
});

/** Sends one raw request on a fresh connection and returns every byte the server sent until it closed. */
function raw(port: number, text: string, local?: { port?: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => { if (local) local.port = sock.localPort; sock.write(text); });
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('end', () => resolve(Buffer.concat(chunks)));
    sock.on('error', reject);
    sock.setTimeout(10_000, () => { sock.destroy(); reject(new Error('no answer')); });
  });
}

test('access log: one line per request with remote and port, method, path, status, bytes on the wire, duration, user agent and user', async () => {
  const { log, lines } = capturedLogger();
  const statuses: number[] = [];
  const r = hello();
  const s = await serve(withAccessLog(requireAuth(r.h, basic), { log, onStatus: (st) => statuses.push(st) }));
  try {
    const client: { port?: number } = {};
    const ok = await raw(s.port, `GET /path?q=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: probe/1.0\r\nAuthorization: Basic ${b64('alice:wonderland')}\r\nConnection: close\r\n\r\n`, client);
    assert.match(ok.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nhello$/);
    await until(() => lines.some((l) => l.evt === 'access'), 10_000, 'the access line');
    const a = lines.find((l) => l.evt === 'access')!;
    assert.equal(a.msg, 'request');
    assert.equal(a.level, 30, 'info');
    assert.equal(a.remote, '127.0.0.1');
    assert.equal(a.port, client.port, 'the client\'s port, as on its client_connect line (the original\'s format joins them: "ip:port")');
    assert.equal(a.method, 'GET');
    // The query is redacted: signed URLs carry their token there.
    assert.equal(a.path, '/path?***');
    assert.equal(a.status, 200);
    assert.equal(a.bytes, ok.length, 'bytes: headers and body as sent on the wire');
    assert.equal(typeof a.durationMs, 'number');
    assert.ok((a.durationMs as number) >= 0);
    assert.equal(a.ua, 'probe/1.0');
    assert.equal(a.user, 'alice');
    assert.equal(a.aborted, undefined, 'finished normally');
    assert.equal(a.packetsSent, undefined, 'not a stream client');

    const denied = await raw(s.port, `GET /other HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${b64('alice:wrong')}\r\nConnection: close\r\n\r\n`);
    assert.match(denied.toString('latin1'), /^HTTP\/1\.1 401 /);
    await until(() => lines.filter((l) => l.evt === 'access').length === 2, 10_000, 'the second access line');
    const d = lines.filter((l) => l.evt === 'access')[1]!;
    assert.equal(d.status, 401);
    assert.equal(d.path, '/other');
    assert.equal(d.user, undefined, 'only an accepted user is logged');
    assert.equal(d.ua, undefined);
    assert.equal(d.bytes, denied.length);
    assert.deepEqual(statuses, [200, 401], 'onStatus once per response');
  } finally { await s.close(); }
});

test('access log: the status is counted when the headers go out (long responses), and a client that leaves is logged as aborted', async () => {
  const { log, lines } = capturedLogger();
  const statuses: number[] = [];
  let open: import('node:http').ServerResponse | undefined;
  const s = await serve(withAccessLog((_req, res) => { res.writeHead(200, { 'Content-Type': 'video/mpeg' }); res.write('x'); open = res; }, { log, onStatus: (st) => statuses.push(st) }));
  try {
    const sock = net.connect(s.port, '127.0.0.1', () => sock.write('GET /live HTTP/1.1\r\nHost: x\r\n\r\n'));
    await until(() => open !== undefined && statuses.length === 1, 10_000, 'the response under way');
    assert.deepEqual(statuses, [200], 'counted while the response is still running');
    assert.equal(lines.filter((l) => l.evt === 'access').length, 0, 'the line waits for the end');
    sock.destroy();
    await until(() => lines.some((l) => l.evt === 'access'), 10_000, 'the access line');
    const a = lines.find((l) => l.evt === 'access')!;
    assert.equal(a.status, 200);
    assert.equal(a.aborted, true);
    assert.deepEqual(statuses, [200]);
  } finally { await s.close(); }
});

test('access log: implicit headers (statusCode + end) are counted too; a client gone before any header logs status 0', async () => {
  const { log, lines } = capturedLogger();
  const statuses: number[] = [];
  let held = 0;
  const s = await serve(withAccessLog((req, res) => {
    if (req.url === '/hold') { held++; return; } // never answers
    res.statusCode = 204;
    res.end();
  }, { log, onStatus: (st) => statuses.push(st) }));
  try {
    assert.equal((await request(`${s.base}/empty`)).status, 204);
    await until(() => lines.some((l) => l.evt === 'access'), 10_000, 'the first access line');
    assert.equal(lines.find((l) => l.evt === 'access')!.status, 204);
    assert.deepEqual(statuses, [204]);

    const sock = net.connect(s.port, '127.0.0.1', () => sock.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n'));
    await until(() => held === 1, 10_000, 'the held request');
    sock.destroy();
    await until(() => lines.filter((l) => l.evt === 'access').length === 2, 10_000, 'the second access line');
    const a = lines.filter((l) => l.evt === 'access')[1]!;
    assert.equal(a.path, '/hold');
    assert.equal(a.status, 0);
    assert.equal(a.bytes, 0);
    assert.equal(a.aborted, true);
    assert.deepEqual(statuses, [204], 'nothing counted for a response never sent');
  } finally { await s.close(); }
});

test('token: a refusal is 403 and its access line gives the reason, never the token', async () => {
  const r = hello();
  const { log, lines } = capturedLogger();
  const s = await serve(withAccessLog(requireAuth(r.h, token), { log }));
  try {
    const fields = `exp=${Math.floor(Date.now() / 1000) + 60}~acl=/live/*`;
    const good = `${fields}~hmac=${tokenHmac(Buffer.from(TOKEN_KEY, 'hex'), fields)}`;
    const cases: [string, string][] = [['/live/a', 'missing'], [`/live/a?tk=${good.slice(0, -1)}0`, 'tampered'], [`/other?tk=${good}`, 'wrong_path']];
    for (const [path, reason] of cases) {
      const a = await request(`${s.base}${path}`);
      assert.equal(a.status, 403, path);
      await until(() => lines.length > 0 && lines.at(-1)!.reason === reason, 5000, `access line of ${path}`);
      assert.equal(lines.at(-1)!.status, 403);
    }
    assert.ok(!JSON.stringify(lines).includes('hmac'), 'no token in the log');
    assert.equal(r.reached, 0);
    assert.equal((await request(`${s.base}/live/a?tk=${encodeURIComponent(good)}`)).status, 200);
  } finally { await s.close(); }
});

test('brute force: 11 wrong passwords block the address (429, even with the right one) while another address logs in', async () => {
  const r = hello();
  const clock = { now: 0 };
  const blocks: string[] = [];
  const guard = new AddressGuard({ failures: 10, windowMs: 60_000, blockMs: 60_000, nowMs: () => clock.now, onBlock: (k) => blocks.push(k) });
  const s = await serve(requireAuth(r.h, basic, { guard }));
  const from = (localAddress: string, authorization?: string) =>
    request(`${s.base}/x`, { localAddress, headers: authorization === undefined ? {} : { authorization } });
  const right = `Basic ${b64('alice:wonderland')}`;
  try {
    // Requests without credentials (a browser's first one) do not count.
    for (let i = 0; i < 20; i++) assert.equal((await from('127.0.0.1')).status, 401);
    for (let i = 0; i < 11; i++) {
      const a = await from('127.0.0.1', `Basic ${b64(`alice:guess${i}`)}`);
      assert.equal(a.status, 401, `guess ${i}`);
      assert.equal(a.headers['www-authenticate'], 'Basic realm="Tests \\"here\\"" charset="UTF-8"', 'a 401 keeps its challenge');
    }
    const blocked = await from('127.0.0.1', right);
    assert.equal(blocked.status, 429);
    assert.equal(blocked.headers['retry-after'], '60');
    assert.equal(r.reached, 0);
    assert.equal((await from('127.0.0.2', right)).status, 200, 'another address is not affected');
    assert.deepEqual(blocks, ['127.0.0.1']);
    clock.now += 60_000;
    assert.equal((await from('127.0.0.1', right)).status, 200, 'the block ends');
  } finally { await s.close(); }
});

test('access log in the original\'s format: the query is redacted there too', async () => {
  const out: string[] = [];
  const { logger } = createLogger({ level: 'info', format: 'restreamer', stream: { write(s: string) { out.push(s); } } });
  const s = await serve(withAccessLog(hello().h, { log: logger }));
  try {
    assert.equal((await request(`${s.base}/live.ts?token=exp=1~acl=/*~hmac=secret`)).status, 200);
    await until(() => out.length > 0, 5000, 'access line');
    const line = JSON.parse(out[0]!) as Record<string, unknown>;
    assert.equal(line.event, 'access');
    assert.equal(line.path, '/live.ts?***');
    assert.ok(!out.join('').includes('secret'));
  } finally { await s.close(); }
});
