// URL notifications in-process: a real Notifier, real receivers on port 0; the heartbeat,
// request deadlines and retry pauses run on a fake clock where time is the point.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { Notifier } from '../../../src/events/notifier.js';
import type { NotificationConfig } from '../../../src/config/schema.js';
import { createLogger, silentLogger } from '../../../src/log/logger.js';
import { FakeClock } from '../../helpers/clock.js';
import { until } from '../../helpers/wait.js';

const userlist = { alice: { password: 'wonder land' }, carol: { password: 'tok-carol' } };

interface Seen { url: string; method: string; authorization: string | undefined }

const servers = new Set<http.Server>();
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

/** A receiver recording every request; `answer` decides what happens to it. */
async function receiver(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_q, r) => { r.end('ok'); }) {
  const seen: Seen[] = [];
  const open = new Set<http.IncomingMessage>();
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url!, method: req.method!, authorization: req.headers.authorization });
    open.add(req);
    res.on('close', () => open.delete(req));
    answer(req, res);
  });
  servers.add(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { seen, open, base, server };
}

function note(event: NotificationConfig['event'], url: string, auth?: { type: string; user?: string }): NotificationConfig {
  return { event, type: 'url', url, authentication: auth ? { realm: '', users: [], ...auth } : undefined };
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk, _e, cb) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); cb(); } });
  return { lines, log: createLogger({ stream: sink, level: 'debug' }).logger };
}

test('limit events send GETs with the configured Authorization header', async () => {
  const rx = await receiver();
  const n = new Notifier({
    notifications: [
      note('limit_hit', `${rx.base}/hit?x=1`, { type: 'basic', user: 'alice' }),
      note('limit_miss', `${rx.base}/miss`, { type: 'bearer', user: 'carol' }),
      note('limit_miss', `${rx.base}/miss-plain`),
      note('heartbeat', `${rx.base}/beat`),
    ],
    userlist, heartbeatIntervalS: 0, log: silentLogger(),
  });
  n.emit('limit_hit');
  await until(() => n.stats.sent === 1, 5_000, 'limit_hit delivery');
  assert.deepEqual(rx.seen, [{ url: '/hit?x=1', method: 'GET', authorization: `Basic ${Buffer.from('alice:wonder land').toString('base64')}` }]);
  n.emit('limit_miss');
  await until(() => n.stats.sent === 3, 5_000, 'limit_miss deliveries');
  const miss = rx.seen.slice(1).sort((a, b) => a.url.localeCompare(b.url));
  assert.deepEqual(miss, [
    { url: '/miss', method: 'GET', authorization: 'Bearer tok-carol' },
    { url: '/miss-plain', method: 'GET', authorization: undefined },
  ]);
  assert.equal(rx.seen.filter((s) => s.url === '/beat').length, 0, 'no heartbeat without an interval');
  assert.deepEqual(n.stats, { sent: 3, failed: 0, dropped: 0 });
  n.close();
});

test('heartbeat fires every interval until close()', async () => {
  const rx = await receiver();
  const clock = new FakeClock();
  const n = new Notifier({
    notifications: [note('heartbeat', `${rx.base}/beat`, { type: 'bearer', user: 'carol' }), note('limit_hit', `${rx.base}/hit`)],
    userlist, heartbeatIntervalS: 0.2, log: silentLogger(), clock,
  });
  assert.equal(clock.pending, 0, 'no timer before start()');
  n.start();
  n.start(); // idempotent: still one timer
  assert.equal(clock.pending, 1, 'one heartbeat timer');
  for (let beat = 1; beat <= 3; beat++) {
    clock.tick(200);
    await until(() => n.stats.sent === beat, 5_000, `heartbeat ${beat}`);
  }
  assert.equal(rx.seen.length, 3, 'one request per interval');
  for (const s of rx.seen) assert.deepEqual(s, { url: '/beat', method: 'GET', authorization: 'Bearer tok-carol' });
  n.close();
  assert.equal(clock.pending, 0, 'no heartbeat after close()');
});

test('no heartbeat timer without heartbeat notifications', async () => {
  const rx = await receiver();
  const clock = new FakeClock();
  const n = new Notifier({ notifications: [note('limit_hit', `${rx.base}/hit`)], userlist, heartbeatIntervalS: 0.05, log: silentLogger(), clock });
  n.start();
  assert.equal(clock.pending, 0);
  n.close();
});

test('a receiver that never answers blocks nothing: bounded in flight, dropped beyond, close() ends it', async () => {
  const rx = await receiver(() => { /* never answer */ });
  const n = new Notifier({ notifications: [note('limit_hit', `${rx.base}/hang`)], userlist, heartbeatIntervalS: 0, log: silentLogger(), timeoutMs: 30_000 });
  for (let i = 0; i < 10; i++) {
    n.emit('limit_hit'); // returns at once: the request has not even reached the receiver yet
    assert.equal(rx.seen.length, 0);
  }
  assert.equal(n.stats.dropped, 6, 'never more than four in flight: the other six dropped at once');
  await until(() => rx.open.size === 4, 5_000, 'four requests at the receiver');
  n.close();
  n.close();
  await until(() => rx.open.size === 0, 5_000, 'receiver sees every connection closed');
  n.emit('limit_hit');
  n.start();
  // A request emitted after close() would have been sent before this one.
  const control = new Notifier({ notifications: [note('limit_hit', `${rx.base}/after`)], userlist, heartbeatIntervalS: 0, log: silentLogger() });
  control.emit('limit_hit');
  await until(() => rx.seen.some((s) => s.url === '/after'), 5_000, 'the control request');
  assert.deepEqual(rx.seen.map((s) => s.url), ['/hang', '/hang', '/hang', '/hang', '/after'], 'nothing sent after close()');
  control.close();
});

test('alarm events carry stream, indicator and remote as query parameters and are never dropped by the in-flight cap', async () => {
  const rx = await receiver(() => { /* never answer */ });
  const n = new Notifier({
    notifications: [note('alarm_raised', `${rx.base}/alarm?k=1`), note('alarm_cleared', `${rx.base}/clear`)],
    userlist, heartbeatIntervalS: 0, log: silentLogger(), timeoutMs: 30_000,
  });
  for (let i = 0; i < 6; i++) n.emit('alarm_raised', { stream: '/s.ts', indicator: 'pid_error', remote: 'http://u:***@h/x?a=b&c' });
  n.emit('alarm_cleared', { stream: '/s.ts', indicator: 'pid_error', remote: 'udp://239.0.0.1:1234' });
  assert.equal(n.stats.dropped, 0);
  await until(() => rx.seen.length === 7, 5_000, 'seven requests at the receiver');
  const raised = new URL(rx.seen.find((s) => s.url.startsWith('/alarm'))!.url, rx.base);
  assert.equal(raised.searchParams.get('k'), '1');
  assert.equal(raised.searchParams.get('stream'), '/s.ts');
  assert.equal(raised.searchParams.get('indicator'), 'pid_error');
  assert.equal(raised.searchParams.get('remote'), 'http://u:***@h/x?a=b&c');
  assert.equal(rx.seen.filter((s) => s.url.startsWith('/clear?stream=%2Fs.ts&indicator=pid_error&remote=udp')).length, 1);
  n.close();
});

test('timeout, then one retry, then counted as failed and logged', async () => {
  const rx = await receiver(() => { /* never answer */ });
  const { lines, log } = capture();
  const clock = new FakeClock();
  const n = new Notifier({ notifications: [note('limit_miss', `${rx.base}/slow`)], userlist, heartbeatIntervalS: 0, log, timeoutMs: 200, clock });
  n.emit('limit_miss');
  await until(() => rx.seen.length === 1, 5_000, 'the first request');
  clock.tick(199);
  assert.equal(clock.pending, 1, 'the deadline has not fired yet');
  clock.tick(1);
  await until(() => clock.pending === 1, 5_000, 'the first request given up, its retry waiting');
  clock.tick(500); // the retry pause
  await until(() => rx.seen.length === 2, 5_000, 'the retry');
  assert.equal(n.stats.failed, 0, 'not failed while the retry runs');
  clock.tick(200);
  await until(() => n.stats.failed === 1, 5_000, 'failure after retry');
  assert.equal(rx.seen.length, 2, 'tried twice');
  const errs = lines.filter((l) => l.evt === 'notify_error');
  assert.equal(errs.length, 1);
  assert.match(String(errs[0]!.err), /no answer within 200 ms/);
  assert.equal(errs[0]!.event, 'limit_miss');
  n.close();
});

test('5xx is retried once, 4xx is not; failures are summarised in the log', async () => {
  const rx = await receiver((req, res) => { res.writeHead(req.url === '/gone' ? 404 : 503).end(); });
  const { lines, log } = capture();
  const n = new Notifier({
    notifications: [note('limit_hit', `${rx.base}/busy`), note('limit_hit', `${rx.base}/gone`)],
    userlist, heartbeatIntervalS: 0, log,
  });
  n.emit('limit_hit');
  await until(() => n.stats.failed === 2, 5_000, 'both failed');
  assert.equal(rx.seen.filter((s) => s.url === '/busy').length, 2);
  assert.equal(rx.seen.filter((s) => s.url === '/gone').length, 1);
  assert.equal(lines.filter((l) => l.evt === 'notify_error').length, 1, 'second failure within the interval is only counted');
  n.close();
});

test('refused connection fails without throwing; sent count recovers when the receiver is up', async () => {
  const rx = await receiver();
  const port = (rx.server.address() as AddressInfo).port;
  rx.server.closeAllConnections();
  await new Promise((resolve) => rx.server.close(resolve));
  const n = new Notifier({ notifications: [note('limit_hit', `http://127.0.0.1:${port}/x`)], userlist, heartbeatIntervalS: 0, log: silentLogger() });
  n.emit('limit_hit');
  await until(() => n.stats.failed === 1, 5_000, 'refused');
  await new Promise<void>((resolve) => rx.server.listen(port, '127.0.0.1', resolve));
  n.emit('limit_hit');
  await until(() => n.stats.sent === 1, 5_000, 'delivered');
  n.close();
});

test('bad notifications are skipped or sent without credentials, with warnings', async () => {
  const rx = await receiver();
  const { lines, log } = capture();
  const n = new Notifier({
    notifications: [
      note('limit_hit', 'not a url'),
      note('limit_hit', 'http://alice:wonder@land@[invalid/x'),
      note('limit_hit', 'ftp://127.0.0.1/x'),
      note('limit_hit', `${rx.base}/unknown-user`, { type: 'basic', user: 'ghost' }),
      note('limit_hit', `${rx.base}/unknown-type`, { type: 'digest', user: 'alice' }),
      note('limit_hit', `${rx.base}/no-type`, { type: '', user: 'alice' }),
    ],
    userlist, heartbeatIntervalS: 0, log,
  });
  assert.equal(lines.filter((l) => l.evt === 'warning').length, 5);
  assert.ok(lines.some((l) => l.url === 'http://alice:***@[invalid/x'), 'an invalid URL is logged without its password');
  assert.ok(!JSON.stringify(lines).includes('wonder'), 'no password in the log');
  n.emit('limit_hit');
  await until(() => n.stats.sent === 3, 5_000, 'three deliveries');
  for (const s of rx.seen) assert.equal(s.authorization, undefined);
  n.close();
});
