// Drop-in compatibility corpus: one configuration for each kind of file the Go
// restreamer runs with although it is odd (empty strings, unknown keys and types,
// dangling references, unusable URLs, missing files, zero buffers, ServeMux patterns,
// trailing data), each started for real with the CLI and probed over HTTP: what was
// valid works, what the original skipped answers 404, and the warning names the path.
// Also the original's own limit hysteresis spec, end to end with a real webhook receiver.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CLI, ProxyProcess, ROOT, StreamClient, TSX, runCli, servedViewer, startProxy, writeConfig } from '../helpers/proxy.js';
import { sleep, until } from '../helpers/wait.js';
import { Scope } from '../helpers/scope.js';

const scope = new Scope();
after(() => scope.close());

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rs-compat-'));
  dirs.push(d);
  return d;
}

/** Start the CLI on a configuration given as text (for what JSON.stringify cannot write). */
async function startText(text: string): Promise<ProxyProcess> {
  const path = join(tempDir(), 'restreamer.json');
  writeFileSync(path, text);
  const proc = spawn(process.execPath, ['--import', TSX, CLI, path], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = new ProxyProcess(proc, path);
  scope.defer(() => p.stop());
  try {
    const l = await p.waitLog((x) => x.evt === 'listen', 15000);
    p.port = l.port as number;
  } catch (e) {
    await p.stop();
    throw e;
  }
  return p;
}

async function start(cfg: Record<string, unknown>): Promise<ProxyProcess> {
  const p = await startProxy({ workers: 1, ...cfg });
  dirs.push(dirname(p.configPath));
  scope.defer(() => p.stop());
  return p;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error(`no answer from ${url}`)));
  });
}

/** The stream at `path` answers 200 and delivers TS packets (retried until its upstream is connected). */
async function streams(p: ProxyProcess, path: string, headers?: Record<string, string>): Promise<void> {
  const c = await servedViewer(p.url(path), () => {}, 15000, { headers, keep: true });
  await until(() => c.bytes >= 188 * 20, 10000, `data on ${path}`);
  c.close();
  assert.equal(c.body()[0], 0x47, `${path} starts on a TS packet`);
}

async function status(p: ProxyProcess, path: string, headers?: Record<string, string>): Promise<number> {
  return (await get(p.url(path), headers)).status;
}

/** The CLI printed a warning naming `path` (stderr, before it listened). */
async function warned(p: ProxyProcess, path: string, text: string | RegExp): Promise<void> {
  const prefix = `restreamer: warning: ${path ? `${path}: ` : ''}`;
  const line = () => p.stderr.split('\n').find((l) => l.startsWith(prefix) && (typeof text === 'string' ? l.includes(text) : text.test(l)));
  await until(() => line() !== undefined, 5000, `warning at ${path} (stderr: ${p.stderr})`);
}

async function healthy(p: ProxyProcess): Promise<void> {
  const h = await get(p.url('/health'));
  assert.equal(h.status, 200);
  assert.equal((JSON.parse(h.body) as { status: string }).status, 'ok');
}

const HEALTH = { type: 'api', api: 'health', serve: '/health' };

/** Records every webhook request it receives. */
async function receiver(): Promise<{ base: string; paths: string[] }> {
  const paths: string[] = [];
  const server = http.createServer((req, res) => { paths.push(req.url ?? ''); res.end('ok'); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  scope.defer(async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); });
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths };
}

describe('the compatibility corpus: each starts and behaves as the original', () => {
  let up = '';
  const upstream = async () => { if (!up) up = (await scope.paced()).url(); return up; };

  it('empty strings mean unset (the documented example\'s stream, authentication and notification shapes)', async () => {
    const p = await start({
      resources: [
        { type: 'stream', api: '', serve: '/live.ts', remote: await upstream(), remotes: [], cache: 0, mru: 1500, preamble: '',
          authentication: { type: '', realm: '', user: '', users: [] } },
        HEALTH,
      ],
      notifications: [{ event: 'limit_hit', type: 'url', url: 'http://127.0.0.1:9/hit', authentication: { type: '', user: '' } }],
    });
    await streams(p, '/live.ts'); // no credentials needed: type "" = no authentication
    await healthy(p);
    assert.doesNotMatch(p.stderr, /warning/);
  });

  it('unknown keys anywhere: ignored, with did-you-mean', async () => {
    const p = await start({
      maxconections: 1, // typo: no hard limit applies
      userlist: { alice: { password: 'a', pasword: 'x' } },
      resources: [{ type: 'stream', serve: '/live.ts', remote: await upstream(), remtoes: [], authentication: { type: 'basic', user: 'alice', relam: 'r' } }, HEALTH],
      notifications: [{ event: 'heartbeat', url: 'http://127.0.0.1:9/b', retries: 3 }],
    });
    await warned(p, 'maxconections', 'unknown key (did you mean "maxconnections"?)');
    await warned(p, 'userlist.alice.pasword', 'did you mean "password"?');
    await warned(p, 'resources[0].remtoes', 'did you mean "remotes"?');
    await warned(p, 'resources[0].authentication.relam', 'did you mean "realm"?');
    await warned(p, 'notifications[0].retries', 'unknown key');
    const alice = { authorization: `Basic ${Buffer.from('alice:a').toString('base64')}` };
    await streams(p, '/live.ts', alice);
    await streams(p, '/live.ts', alice); // a second client: "maxconections" set no limit
  });

  it('unknown resource type, api type and notification event/type: entry skipped, its path answers 404', async () => {
    const rx = await receiver();
    const p = await start({
      heartbeatinterval: 0.2,
      resources: [
        { type: 'strem', serve: '/typo.ts', remote: await upstream() },
        { type: 'api', api: 'helth', serve: '/helth' },
        { type: 'api', serve: '/noapi' },
        { type: 'stream', serve: '/live.ts', remote: await upstream() },
        HEALTH,
      ],
      notifications: [
        { event: 'heartbeet', url: `${rx.base}/skipped-event` },
        { event: 'heartbeat', type: 'mail', url: `${rx.base}/skipped-type` },
        { event: 'heartbeat', url: `${rx.base}/beat` },
      ],
    });
    await warned(p, 'resources[0]', 'unknown resource type "strem" (did you mean "stream"?)');
    await warned(p, 'resources[1]', 'unknown api type "helth" (did you mean "health"?)');
    await warned(p, 'resources[2]', 'needs "api"');
    await warned(p, 'notifications[0]', 'unknown event "heartbeet" (did you mean "heartbeat"?)');
    await warned(p, 'notifications[1]', 'unknown notification type "mail"');
    for (const path of ['/typo.ts', '/helth', '/noapi']) assert.equal(await status(p, path), 404, path);
    await streams(p, '/live.ts');
    await healthy(p);
    await until(() => rx.paths.filter((x) => x === '/beat').length >= 2, 5000, 'heartbeats');
    assert.deepEqual([...new Set(rx.paths)], ['/beat'], 'skipped notifications are never sent');
  });

  it('check/control naming no stream answer 404; the valid ones work', async () => {
    const p = await start({
      resources: [
        { type: 'stream', serve: '/live.ts', remote: await upstream() },
        { type: 'api', api: 'check', serve: '/check/other', remote: '/other.ts' },
        { type: 'api', api: 'control', serve: '/control/none', remote: '' },
        { type: 'api', api: 'check', serve: '/check/live', remote: '/live.ts' },
      ],
    });
    await warned(p, 'resources[1].remote', '"/other.ts" is not the serve path of a stream resource');
    await warned(p, 'resources[2].remote', 'control API skipped');
    assert.equal(await status(p, '/check/other'), 404);
    assert.equal(await status(p, '/control/none?offline'), 404);
    await streams(p, '/live.ts');
    const check = await get(p.url('/check/live'));
    assert.equal(check.status, 200);
  });

  it('auth: a user missing from userlist, or without a password, cannot log in; the others can', async () => {
    const p = await start({
      userlist: { alice: { password: 'a' }, nopass: {} },
      resources: [{ type: 'stream', serve: '/live.ts', remote: await upstream(), authentication: { type: 'basic', user: 'ghost', users: ['nopass', 'alice'] } }],
    });
    await warned(p, 'userlist.nopass', 'no "password": this user cannot log in');
    await warned(p, 'resources[0].authentication.user', 'user "ghost" is not in userlist');
    const basic = (u: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${pw}`).toString('base64')}` });
    await streams(p, '/live.ts', basic('alice', 'a'));
    assert.equal(await status(p, '/live.ts', basic('nopass', '')), 401);
    assert.equal(await status(p, '/live.ts', basic('ghost', '')), 401);
  });

  it('unknown upstream schemes: that remote is dropped; a stream left with none stays offline (404)', async () => {
    const p = await start({
      resources: [
        { type: 'stream', serve: '/live.ts', remote: 'gopher://127.0.0.1:70/x', remotes: [await upstream(), 'not a url'] },
        { type: 'stream', serve: '/dead.ts', remote: 'rtsp://127.0.0.1/x' },
        { type: 'api', api: 'check', serve: '/check/dead', remote: '/dead.ts' },
      ],
    });
    await warned(p, 'resources[0].remote', 'unknown upstream scheme "gopher"');
    await warned(p, 'resources[0].remotes[1]', '"not a url" is not a valid URL');
    await warned(p, 'resources[1].remote', 'no usable upstream: the stream stays offline and answers 404');
    await streams(p, '/live.ts');
    assert.equal(await status(p, '/dead.ts'), 404);
    assert.equal(await status(p, '/check/dead'), 404);
  });

  it('ftp:// static and notification URLs: skipped (404, never sent)', async () => {
    const p = await start({
      resources: [
        { type: 'stream', serve: '/live.ts', remote: await upstream() },
        { type: 'static', serve: '/file', remote: 'ftp://127.0.0.1/file' },
      ],
      notifications: [{ event: 'heartbeat', url: 'ftp://127.0.0.1/beat' }],
    });
    await warned(p, 'resources[1].remote', 'static resource skipped');
    await warned(p, 'notifications[0].url', 'notification skipped');
    assert.equal(await status(p, '/file'), 404);
    await streams(p, '/live.ts');
  });

  it('a missing preamble file: the stream is served without it', async () => {
    const p = await start({ resources: [{ type: 'stream', serve: '/live.ts', remote: await upstream(), preamble: 'no-such-preamble.ts' }] });
    await warned(p, 'resources[0].preamble', 'no such file; the stream is served without a preamble');
    await streams(p, '/live.ts');
  });

  it('"remote": "" among valid streams: that stream is skipped (404), the others stream', async () => {
    const p = await start({
      resources: [
        { type: 'stream', serve: '/empty.ts', remote: '' },
        { type: 'stream', serve: '/live.ts', remote: await upstream() },
      ],
    });
    await warned(p, 'resources[0].remote', 'stream skipped: no upstream');
    assert.equal(await status(p, '/empty.ts'), 404);
    await streams(p, '/live.ts');
  });

  it('inputbuffer, outputbuffer and mru of 0: the defaults', async () => {
    const p = await start({ inputbuffer: 0, outputbuffer: 0, resources: [{ type: 'stream', serve: '/live.ts', remote: await upstream(), mru: 0 }] });
    await warned(p, 'inputbuffer', '0 means the default (1000)');
    await warned(p, 'outputbuffer', '0 means the default (400)');
    await warned(p, 'resources[0].mru', '0 means the default (1500)');
    await streams(p, '/live.ts');
  });

  it('serve without a leading slash: a host pattern matches only its host; no "/" never matches', async () => {
    const p = await start({
      resources: [
        { type: 'stream', serve: 'live.ts', remote: await upstream() },
        { type: 'stream', serve: '/real.ts', remote: await upstream() },
        { type: 'api', api: 'health', serve: 'localhost/health' },
      ],
    });
    await warned(p, 'resources[0].serve', '"live.ts" never matches a request');
    assert.doesNotMatch(p.stderr, /resources\[2\]/, 'a host pattern is valid');
    assert.equal(await status(p, '/live.ts'), 404);
    assert.equal(await status(p, '/health', { host: 'example.invalid' }), 404, 'another host');
    await streams(p, '/real.ts');
  });

  it('trailing data after the JSON value: the first value is read', async () => {
    const first = JSON.stringify({ listen: '127.0.0.1:0', workers: 1, resources: [{ type: 'stream', serve: '/live.ts', remote: await upstream() }, HEALTH] });
    const p = await startText(`${first}\n{"listen": ":1"}\nand some garbage`);
    await warned(p, '', 'data after the end of the JSON value (line 2, column 1) ignored');
    await streams(p, '/live.ts');
    await healthy(p);
  });

  it('the Go restreamer\'s own documented example, with only listen changed, starts and answers', async () => {
    // Its keys and values (examples/documented/restreamer.json there): upstreams and webhooks on localhost only.
    const doc = {
      listen: '127.0.0.1:0', timeout: 0, reconnect: 10, readtimeout: 0, nostats: false, profile: false, inputbuffer: 1000, outputbuffer: 400,
      maxconnections: 100, fullconnections: 90, heartbeatinterval: 60, log: '',
      userlist: { username: { '': 'comment', password: 'secret_password' } },
      resources: [
        { type: 'stream', api: '', serve: '/stream.ts', remote: 'http://localhost:10000/stream.ts', remotes: [], cache: 0, mru: 1500, preamble: 'preamble.ts',
          authentication: { type: '', realm: '', user: '', users: [] } },
        { type: 'api', api: 'check', serve: '/check/stream.ts', remote: '/stream.ts' },
        { type: 'api', api: 'control', serve: '/control/stream.ts', remote: '/stream.ts' },
        { type: 'stream', serve: '/pipe.ts', remote: 'file:///tmp/pipe.ts', remotes: ['unix:///tmp/pipe2.ts'] },
        { type: 'api', api: 'health', serve: '/health' },
        { type: 'api', api: 'prometheus', serve: '/metrics' },
        { type: 'static', serve: '/test', remote: 'file:///tmp/test' },
        { type: 'static', serve: '/stats', remote: 'http://localhost:10000/stats', cache: 60 },
      ],
      notifications: [
        { event: 'limit_hit', type: 'url', url: 'http://localhost:8001/hit', authentication: { type: '', user: '' } },
        { event: 'limit_miss', type: 'url', url: 'http://localhost:8001/miss' },
        { event: 'heartbeat', type: 'url', url: 'http://localhost:8001/ping' },
      ],
    };
    const p = await startText(JSON.stringify(doc, null, '\t'));
    await warned(p, 'resources[0].preamble', 'the stream is served without a preamble');
    await healthy(p);
    assert.equal((await get(p.url('/metrics'))).status, 200);
    assert.equal(await status(p, '/check/stream.ts'), 404, 'its upstream is not there');
    assert.equal(await status(p, '/control/stream.ts?offline'), 202);
  });
});

describe('--check and --strict', () => {
  const lenient = () => writeConfig({ listen: '127.0.0.1:0', resources: [{ type: 'stream', serve: '/live.ts', remote: 'http://127.0.0.1:9/x', remtoe: 'x' }] }, tempDir());

  it('--check accepts a lenient configuration and prints its warnings with their paths', async () => {
    const r = await runCli(['--check', lenient()]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /OK/);
    assert.match(r.stderr, /warning: resources\[0\]\.remtoe: unknown key \(did you mean "remote"\?\)/);
  });

  it('--strict turns every warning into an error, with --check and without', async () => {
    const file = lenient();
    for (const args of [['--check', '--strict', file], ['--strict', file]]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /strict: every warning is an error/);
      assert.match(r.stderr, /resources\[0\]\.remtoe: unknown key/);
      assert.doesNotMatch(r.stdout, /"evt":"listen"/);
    }
  });

  it('--strict accepts a clean configuration', async () => {
    const r = await runCli(['--check', '--strict', join(ROOT, 'examples', 'minimal', 'restreamer.json')]);
    assert.equal(r.code, 0, r.stderr);
  });

  it('--help lists --strict', async () => {
    assert.match((await runCli(['--help'])).stdout, /--strict/);
  });
});

describe('limit hysteresis (the original\'s event queue spec), end to end', () => {
  it('fullconnections 10 and client steps +10 -1 -2 +4 +1 -2 -1 +1: exactly 3 limit_hit and 2 limit_miss webhooks', async () => {
    const rx = await receiver();
    const p = await start({
      fullconnections: 10,
      resources: [{ type: 'stream', serve: '/live.ts', remote: (await scope.paced()).url() }, HEALTH],
      notifications: [
        { event: 'limit_hit', url: `${rx.base}/hit` },
        { event: 'limit_miss', url: `${rx.base}/miss` },
      ],
    });
    const viewers = async () => (JSON.parse((await get(p.url('/health'))).body) as { viewer: number }).viewer;
    const waitViewers = (want: number) => until(async () => (await viewers()) === want, 10000, `health to show ${want} viewers`);
    await streams(p, '/live.ts'); // the upstream is connected
    await waitViewers(0);
    const clients: StreamClient[] = [];
    scope.defer(() => { for (const c of clients) c.close(); });
    const step = async (delta: number, notifications: number) => {
      if (delta > 0) {
        const added = Array.from({ length: delta }, () => new StreamClient(p.url('/live.ts'), { keep: false }));
        clients.push(...added);
        await Promise.all(added.map((c) => c.responded));
        for (const c of added) assert.equal(c.status, 200);
      } else {
        for (const c of clients.splice(0, -delta)) c.close();
      }
      await waitViewers(clients.length);
      await until(() => rx.paths.length >= notifications, 5000, `${notifications} webhooks after ${delta > 0 ? '+' : ''}${delta}`);
    };
    // Cumulative webhooks expected after each step: the count crosses 10 upwards (hit) or downwards (miss).
    await step(10, 1); // 10: hit
    await step(-1, 2); //   9: miss
    await step(-2, 2); //   7
    await step(4, 3); //  11: hit
    await step(1, 3); //  12
    await step(-2, 3); //  10: still at the limit
    await step(-1, 4); //   9: miss
    await step(1, 5); //  10: hit
    await sleep(300); // time passing is the point: a sixth webhook, which must not come, would come within it
    assert.deepEqual(rx.paths, ['/hit', '/miss', '/hit', '/miss', '/hit']);
  });
});
