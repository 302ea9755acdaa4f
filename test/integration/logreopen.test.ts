// Operations through the real CLI: the access log (fields, static resources behind the
// proxy: served, 304, 502), and reopening the log file on SIGHUP as logrotate does.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import { CLI, ROOT, startProxy, tempDir, removeTempDir, writeConfig, type LogLine } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';
import { freePort } from '../helpers/upstream.js';
import { fnv1a64Hex } from '../../src/http/fnv.js';

const cleanups: (() => unknown)[] = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

interface Answer { status: number; headers: http.IncomingHttpHeaders; body: string }

function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`no answer from ${url}`)));
  });
}

function lines(file: string): LogLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogLine);
}

test('static resources through the proxy (served, 304, 502) and their access log lines', async () => {
  const dir = tempDir('rs-static-');
  cleanups.push(() => removeTempDir(dir));
  const file = join(dir, 'app.html');
  const body = '<html><body>hbbtv app</body></html>';
  writeFileSync(file, body);
  let fetches = 0;
  const origin = http.createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { 'Content-Type': 'application/json', 'X-Private': 'no' }).end('{"a":1}');
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise((r) => { origin.closeAllConnections(); origin.close(r); }));
  const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/data.json`;

  const p = await startProxy({
    timeout: 2,
    resources: [
      { type: 'static', serve: '/app.html', remote: pathToFileURL(file).href, cache: 60 },
      { type: 'static', serve: '/data.json', remote: originUrl, cache: 60 },
      { type: 'static', serve: '/gone.json', remote: `http://127.0.0.1:${await freePort()}/x.json`, cache: 60 },
    ],
  });
  cleanups.push(() => p.stop());

  const served = await get(p.url('/app.html'), { 'User-Agent': 'test-agent/1' });
  assert.equal(served.status, 200);
  assert.equal(served.body, body);
  assert.equal(served.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(served.headers['cache-control'], 'max-age=60');
  assert.equal(served.headers.etag, `"${fnv1a64Hex(Buffer.from(body))}"`);

  const again = await get(p.url('/app.html'), { 'If-None-Match': served.headers.etag });
  assert.equal(again.status, 304);
  assert.equal(again.body, '');

  const proxied = await get(p.url('/data.json'));
  assert.deepEqual([proxied.status, proxied.body, proxied.headers['content-type'], proxied.headers['x-private']], [200, '{"a":1}', 'application/json', undefined]);
  await get(p.url('/data.json'));
  assert.equal(fetches, 1, 'kept for `cache` seconds');

  const gone = await get(p.url('/gone.json'));
  assert.equal(gone.status, 502);
  assert.equal(gone.headers['cache-control'], 'no-cache');

  assert.equal((await get(p.url('/nowhere'))).status, 404);
  await until(() => p.logs.filter((l) => l.evt === 'access').length >= 6, 5000, 'access lines');
  const access = p.logs.filter((l) => l.evt === 'access');
  const first = access[0]!;
  assert.equal(first.method, 'GET');
  assert.equal(first.path, '/app.html');
  assert.equal(first.status, 200);
  assert.equal(first.remote, '127.0.0.1');
  assert.equal(first.ua, 'test-agent/1');
  assert.equal(typeof first.durationMs, 'number');
  assert.ok((first.bytes as number) > body.length, 'bytes on the wire include the body');
  assert.equal(typeof first.time, 'string');
  assert.equal(first.user, undefined);
  assert.deepEqual(access.map((l) => l.status), [200, 304, 200, 200, 502, 404]);
  assert.equal(access[5]!.path, '/nowhere');
});

test('SIGHUP reopens the log file: after a rename, the next lines land in a new file', async () => {
  const dir = tempDir('rs-log-');
  const log = join(dir, 'restreamer.log');
  const cfgPath = writeConfig({ listen: '127.0.0.1:0', log, resources: [{ type: 'api', api: 'health', serve: '/health' }] }, dir);
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI, cfgPath], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  proc.stdout.on('data', (d: Buffer | string) => { stdout += String(d); });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  cleanups.push(() => { if (proc.exitCode === null) proc.kill('SIGKILL'); removeTempDir(dir); });

  await until(() => lines(log).some((l) => l.evt === 'listen'), 15000, 'listen line in the log file');
  const port = lines(log).find((l) => l.evt === 'listen')!.port as number;
  // Paths (not queries, which the access log redacts) tell the lines apart; a 404 is logged too.
  assert.equal((await get(`http://127.0.0.1:${port}/before`)).status, 404);
  await until(() => lines(log).some((l) => l.evt === 'access' && l.path === '/before'), 5000, 'first access line');

  renameSync(log, `${log}.1`);
  proc.kill('SIGHUP');
  await until(() => lines(log).some((l) => l.evt === 'log_reopen'), 5000, 'a new log file with the reopen line');
  assert.equal((await get(`http://127.0.0.1:${port}/after`)).status, 404);
  await until(() => lines(log).some((l) => l.evt === 'access' && l.path === '/after'), 5000, 'access line in the new file');

  const old = lines(`${log}.1`);
  assert.ok(old.some((l) => l.path === '/before'));
  assert.ok(!old.some((l) => l.path === '/after'), 'nothing after the reopen goes to the renamed file');
  assert.ok(!lines(log).some((l) => l.path === '/before'));
  assert.equal(stdout, '', 'with "log" set, nothing is logged to stdout');

  proc.kill('SIGTERM');
  assert.equal(await exited, 0);
});
