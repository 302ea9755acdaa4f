// HTTPS beside HTTP through the real CLI, in one process and with workers, with a test CA
// made by openssl: a client that verifies against the CA streams over TLS while plain
// HTTP goes on; a certificate rotation by SIGHUP reaches new connections and drops none;
// a broken pair is refused and the old one kept; a handshake that never comes is cut
// after 10 s; "only" closes plain HTTP; sessions resume across workers; --check judges
// the pair.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import { TLSSocket, connect as tlsConnect } from 'node:tls';
import { copyFileSync } from 'node:fs';
import { runCli, startProxy, writeConfig, tempDir, StreamClient, type ProxyProcess } from '../helpers/proxy.js';
import { freePort } from '../helpers/upstream.js';
import { TestCa, type CertFiles } from '../helpers/tls.js';
import { until } from '../helpers/wait.js';
import { Scope } from '../helpers/scope.js';

const scope = new Scope();
const ca = new TestCa();
after(async () => { await scope.close(); ca.close(); });

/** A stream (or any) response over HTTPS, verified against the test CA; counts what arrives. */
class TlsClient {
  status = 0;
  bytes = 0;
  ended = false;
  /** The CN of the certificate the server presented. */
  peer: unknown;
  readonly responded: Promise<void>;
  private readonly req;

  constructor(port: number, path: string) {
    let done!: () => void;
    let failed!: (e: Error) => void;
    this.responded = new Promise((resolve, reject) => { done = resolve; failed = reject; });
    this.req = https.get({ host: '127.0.0.1', port, path, ca: ca.pem, agent: false }, (res) => {
      this.status = res.statusCode ?? 0;
      this.peer = res.socket instanceof TLSSocket ? res.socket.getPeerCertificate().subject.CN : undefined;
      res.on('data', (d: Buffer) => { this.bytes += d.length; });
      res.on('close', () => { this.ended = true; });
      done();
    });
    this.req.on('error', (e) => { this.ended = true; failed(e); });
  }

  close(): void { this.req.destroy(); }
}

/** The CN a new HTTPS connection is shown. */
async function peerOf(port: number): Promise<unknown> {
  const c = new TlsClient(port, '/health');
  await c.responded;
  c.close();
  return c.peer;
}

/** SIGHUP, then the reload's own line (ok true or false); with workers, once each worker runs it too. */
async function hup(p: ProxyProcess, workers: number): Promise<Record<string, unknown>> {
  const lines = () => p.logs.filter((l) => l.evt === 'reload' && l.ok !== undefined && l.worker === undefined);
  const applied = () => p.logs.filter((l) => l.evt === 'reload' && l.ok === true && l.worker !== undefined).length;
  const seen = lines().length;
  const seenApplied = applied();
  p.proc.kill('SIGHUP');
  await until(() => lines().length > seen, 10000, 'reload log line');
  const line = lines().at(-1)!;
  if (line.ok === true && workers > 1) await until(() => applied() >= seenApplied + workers, 10000, 'every worker reloaded');
  return line;
}

const tlsPort = async (p: ProxyProcess) => (await p.waitLog((l) => l.evt === 'listen' && l.tls === true)).port as number;

for (const workers of [1, 2]) {
test(`workers: ${workers} — a verifying client streams over HTTPS beside plain HTTP; SIGHUP rotates the pair for new connections without dropping one; a broken pair is refused; a silent handshake is cut after 10 s`, async () => {
  const up = await scope.paced();
  const dir = tempDir('rs-tls-live-');
  const live: CertFiles = { cert: `${dir}/fullchain.pem`, key: `${dir}/privkey.pem` };
  ca.install(ca.issue('first'), live);
  const p = await startProxy({
    workers,
    tls: { listen: '127.0.0.1:0', ...live },
    resources: [{ type: 'stream', serve: '/live.ts', remote: up.url() }, { type: 'api', api: 'health', serve: '/health' }],
  }, { waitStreams: true });
  scope.defer(() => p.stop());
  const port = await tlsPort(p);
  // A client that opens TCP and never sends a ClientHello: timed from now, checked at the end.
  const opened = Date.now();
  let silentFor = 0;
  const silent = net.connect(port, '127.0.0.1');
  silent.on('error', () => { /* a reset is a close too */ });
  silent.once('close', () => { silentFor = Date.now() - opened; });

  const before = new TlsClient(port, '/live.ts');
  await before.responded;
  assert.deepEqual({ status: before.status, peer: before.peer }, { status: 200, peer: 'first' });
  const plain = new StreamClient(p.url('/live.ts'), { keep: false });
  await until(() => before.bytes > 188 * 100 && plain.bytes > 188 * 100, 10000, 'data over HTTPS and HTTP');

  ca.install(ca.issue('second'), live);
  assert.equal((await hup(p, workers)).ok, true);
  await p.waitLog((l) => l.evt === 'tls_reload' && l.subject === 'CN=second');
  assert.equal(await peerOf(port), 'second', 'a new connection gets the new certificate');
  const mark = before.bytes;
  await until(() => before.bytes > mark + 188 * 100, 10000, 'the stream opened before the rotation still flowing');

  // A renewal caught halfway: a new certificate beside the old key.
  copyFileSync(ca.issue('third').cert, live.cert);
  const refused = await hup(p, workers);
  assert.deepEqual({ ok: refused.ok, code: refused.code }, { ok: false, code: 'TLS_PAIR_INVALID' });
  assert.match(String(refused.msg), /the key does not belong to the certificate/);
  assert.equal(await peerOf(port), 'second', 'the old pair is kept');
  const mark2 = before.bytes;
  await until(() => before.bytes > mark2 + 188 * 100 && !before.ended && !plain.ended, 10000, 'both streams still flowing');

  await until(() => silentFor > 0, 15000, 'the silent connection closed');
  assert.ok(silentFor >= 9500 && silentFor <= 11500, `a connection without a handshake was closed after ${silentFor} ms (expected 10 s)`);
  before.close();
  plain.close();
});
}

test('workers: 2 — a TLS session resumes on whichever worker the next connection reaches (one set of ticket keys)', async () => {
  const p = await startProxy({ workers: 2, tls: { listen: '127.0.0.1:0', ...ca.issue('resume') }, resources: [{ type: 'api', api: 'health', serve: '/health' }] });
  scope.defer(() => p.stop());
  const port = await tlsPort(p);
  const connect = (session?: Buffer) => new Promise<{ reused: boolean; session: Buffer | undefined }>((resolve, reject) => {
    // TLS 1.2: its ticket comes with the handshake, and resuming it needs the same ticket keys.
    const s = tlsConnect({ host: '127.0.0.1', port, ca: ca.pem, session, maxVersion: 'TLSv1.2' }, () => {
      const result = { reused: s.isSessionReused(), session: s.getSession() };
      s.end();
      resolve(result);
    });
    s.on('error', reject);
  });
  const first = await connect();
  assert.equal(first.reused, false);
  // The primary hands connections round robin: six resumptions reach both workers.
  const again = await Promise.all(Array.from({ length: 6 }, () => connect(first.session)));
  assert.deepEqual(again.map((r) => r.reused), [true, true, true, true, true, true]);
});

test('"only": true serves HTTPS and nothing on the plain listen address', async () => {
  const plainPort = await freePort();
  const pair = ca.issue('only');
  const p = await startProxy({ listen: `127.0.0.1:${plainPort}`, tls: { listen: '127.0.0.1:0', ...pair, only: true }, resources: [{ type: 'api', api: 'health', serve: '/health' }] });
  scope.defer(() => p.stop());
  const port = await tlsPort(p);
  assert.equal(await peerOf(port), 'only');
  assert.deepEqual(p.logs.filter((l) => l.evt === 'listen').map((l) => l.tls), [true], 'one listener, the HTTPS one');
  const refused = await new Promise<string | undefined>((resolve) => {
    const s = net.connect(plainPort, '127.0.0.1', () => { s.destroy(); resolve(undefined); });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code));
  });
  assert.equal(refused, 'ECONNREFUSED');
});

test('--check and start judge the pair: OK, a warning within 14 days of expiry, expired or mismatched exit 2', async () => {
  const dir = tempDir();
  const check = (tls: CertFiles, extra: Record<string, unknown> = {}) =>
    runCli(['--check', writeConfig({ listen: '127.0.0.1:0', tls: { listen: '127.0.0.1:0', ...tls }, ...extra }, dir)]);
  const good = await check(ca.issue('good', { days: 60 }));
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /OK .*https 127\.0\.0\.1:0\)/);
  assert.doesNotMatch(good.stderr, /tls/, 'no warning for a certificate valid 60 days');
  const soon = await check(ca.issue('soon', { days: 5 }));
  assert.equal(soon.code, 0, soon.stderr);
  assert.match(soon.stderr, /warning: tls\.cert: TLS certificate .*soon\.pem \(CN=soon\) expires on .* in 4 day\(s\)/);
  const expired = await check(ca.issue('expired', { days: -1 }));
  assert.equal(expired.code, 2);
  assert.match(expired.stderr, /^restreamer: TLS_PAIR_INVALID: .*the certificate expired on/m);
  const mismatched = { cert: ca.issue('m1').cert, key: ca.issue('m2').key };
  assert.match((await check(mismatched)).stderr, /TLS_PAIR_INVALID: .*the key does not belong to the certificate/);
  const started = await runCli([writeConfig({ listen: '127.0.0.1:0', tls: { listen: '127.0.0.1:0', ...mismatched } }, dir)]);
  assert.equal(started.code, 2, 'a start with a broken pair exits 2 before listening');
});
