// The core proxy end to end: the real CLI as a child process, real HTTP upstreams
// (ffmpeg and a paced server), real HTTP clients.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { StreamClient, sigtermUnderLoad, tempDir, type ProxyProcess } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';
import { fixtureTs, freePort, ffmpegHttpServer, probeCodecs, waitListening, type PacedServer } from '../helpers/upstream.js';
import { Scope } from '../helpers/scope.js';
import { ccErrors, overlapEqual, PKT } from '../helpers/packets.js';

const scope = new Scope();
after(() => scope.close());

function streamCfg(remote: string | string[], extra: Record<string, unknown> = {}, res: Record<string, unknown> = {}) {
  const remotes = Array.isArray(remote) ? remote : [remote];
  return {
    reconnect: 1, timeout: 3, ...extra,
    resources: [{ type: 'stream', serve: '/live.ts', remote: remotes[0], remotes: remotes.slice(1), ...res }],
  };
}

const paced = (rate?: number): Promise<PacedServer> => scope.paced(rate);

const proxy = (cfg: Record<string, unknown>, wait = true): Promise<ProxyProcess> => scope.proxy(cfg, wait);

/** Cut a capture to whole packets starting at the first sync byte; assert it starts aligned. */
function aligned(buf: Buffer): Buffer {
  assert.equal(buf[0], 0x47, 'first byte is a sync byte');
  const whole = buf.subarray(0, buf.length - (buf.length % PKT));
  for (let o = 0; o < whole.length; o += PKT) assert.equal(whole[o], 0x47, `sync byte at ${o}`);
  return whole;
}

test('ffprobe reads the proxied stream as the same programs and codecs as the source', async () => {
  const file = fixtureTs();
  const port = await freePort();
  const ff = ffmpegHttpServer(file, port);
  scope.defer(() => ff.kill('SIGKILL'));
  await waitListening(port);
  const p = await proxy(streamCfg(`http://127.0.0.1:${port}/live.ts`));
  const through = probeCodecs(p.url('/live.ts'));
  assert.deepEqual(through, probeCodecs(file));
  assert.deepEqual(through, ['aac', 'h264']);
});

test('stream headers, HEAD, and 50 clients receiving identical aligned bytes without CC errors', async () => {
  const up = await paced();
  const p = await proxy(streamCfg(up.url()));
  const head = new StreamClient(p.url('/live.ts'), { method: 'HEAD' });
  await head.done;
  assert.equal(head.status, 200);
  assert.equal(head.bytes, 0);
  assert.equal(head.headers['content-type'], 'video/mpeg');
  assert.equal(head.headers['cache-control'], 'no-cache,no-store,no-transform');
  assert.equal(head.headers['accept-ranges'], 'none');
  assert.ok(head.headers['last-modified']);

  const clients = Array.from({ length: 50 }, () => new StreamClient(p.url('/live.ts')));
  await Promise.all(clients.map((c) => c.responded));
  for (const c of clients) assert.equal(c.status, 200);
  await until(() => clients.every((c) => c.bytes > 300 * PKT), 15000, '300 packets on every client');
  for (const c of clients) c.close();
  const caps = clients.map((c) => aligned(c.body()));
  // Every capture is a contiguous piece of the same stream: find each one's start in the
  // longest and compare the overlap byte for byte.
  const ref = caps.reduce((a, b) => (a.length >= b.length ? a : b));
  for (const [i, cap] of caps.entries()) {
    assert.ok(cap.length > 100 * PKT, `client ${i} received ${cap.length} bytes`);
    assert.equal(ccErrors(cap), 0, `client ${i} continuity`);
    assert.ok(overlapEqual(ref, cap) > 50 * PKT, `client ${i}: identical bytes to the others where they overlap`);
  }
});

test('remotes: a 404 and a refused remote are skipped, the working one serves', async () => {
  const good = await paced();
  const bad = await paced();
  bad.mode = '404';
  const refused = await freePort();
  const p = await proxy(streamCfg([`http://127.0.0.1:${refused}/x.ts`, bad.url(), good.url()], { reconnect: 1 }));
  const c = new StreamClient(p.url('/live.ts'));
  await c.responded;
  assert.equal(c.status, 200);
  await until(() => c.bytes > 10 * PKT, 5000, 'data');
  c.close();
  const connected = p.logs.find((l) => l.evt === 'upstream_connect');
  assert.equal(connected?.url, good.url());
});

test('upstream killed (grace 0, the original behaviour): responses end, new clients get 404, served again after it returns', async () => {
  const up = await paced();
  const p = await proxy(streamCfg(up.url(), { reconnect: 1, grace: 0 }));
  const clients = [new StreamClient(p.url('/live.ts')), new StreamClient(p.url('/live.ts'))];
  await Promise.all(clients.map((c) => c.responded));
  await until(() => clients.every((c) => c.bytes > 0), 5000, 'data');
  const port = up.port;
  const killedAt = Date.now();
  await up.stop();
  await Promise.all(clients.map((c) => c.done));
  assert.ok(Date.now() - killedAt < 1500, 'responses ended within 1.5 s');
  for (const c of clients) assert.equal(c.status, 200);
  const refused = new StreamClient(p.url('/live.ts'));
  await refused.done;
  assert.equal(refused.status, 404);
  assert.equal(refused.bytes, 0);
  assert.equal(refused.headers['content-type'], 'video/mpeg');
  await up.start(port);
  const back = Date.now();
  await until(() => p.logs.filter((l) => l.evt === 'upstream_connect').length >= 2, 5000, 'reconnect');
  assert.ok(Date.now() - back < 3000, 'reconnected within the reconnect rule (1 s) plus slack');
  const again = new StreamClient(p.url('/live.ts'));
  await again.responded;
  assert.equal(again.status, 200);
  await until(() => again.bytes > 0, 5000, 'data after reconnect');
  again.close();
});

test('maxconnections: the client over the limit gets 404, the others keep streaming', async () => {
  const up = await paced();
  const p = await proxy(streamCfg(up.url(), { maxconnections: 3 }));
  const ok = [0, 1, 2].map(() => new StreamClient(p.url('/live.ts')));
  await Promise.all(ok.map((c) => c.responded));
  const over = new StreamClient(p.url('/live.ts'));
  await over.done;
  assert.equal(over.status, 404);
  const before = ok.map((c) => c.bytes);
  await until(() => ok.every((c, i) => c.bytes > before[i]!), 5000, 'the admitted clients still streaming');
  ok[0]!.close();
  await p.waitLog((l) => l.evt === 'client_disconnect', 5000);
  const now = new StreamClient(p.url('/live.ts'));
  await now.responded;
  assert.equal(now.status, 200, 'a slot freed by a leaving client is usable');
  now.close();
  for (const c of ok) c.close();
});

test('a client that stops reading loses packets (counted); the others lose nothing; memory stays bounded', async () => {
  // Fast upstream (about 32 Mbit/s) so socket buffers fill quickly.
  const up = await paced(4_000_000);
  const p = await proxy(streamCfg(up.url(), { outputbuffer: 400 }));
  const stalled = net.connect(p.port, '127.0.0.1');
  stalled.setNoDelay(true);
  await new Promise((r) => stalled.once('connect', r));
  stalled.write('GET /live.ts HTTP/1.1\r\nHost: x\r\n\r\n');
  stalled.pause();
  scope.defer(() => stalled.destroy());
  const good = [new StreamClient(p.url('/live.ts')), new StreamClient(p.url('/live.ts'))];
  await Promise.all(good.map((c) => c.responded));
  let maxRss = 0;
  const pid = p.proc.pid!;
  const sampleRss = () => {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    maxRss = Math.max(maxRss, Number(m?.[1] ?? 0) * 1024);
  };
  // Memory is sampled while 10 MB pass the stalled client: more than its socket buffers
  // (a few MB on loopback) and its 400-packet lag can hold, so it must lose packets.
  await until(() => { sampleRss(); return good.every((c) => c.bytes > 10_000_000); }, 30000, '10 MB through the reading clients', 150);
  for (const c of good) c.close();
  stalled.destroy();
  const disc = await p.waitLog((l) => l.evt === 'client_disconnect' && (l.packetsDropped as number) > 0, 5000);
  assert.ok((disc.packetsDropped as number) > 100, `stalled client dropped ${String(disc.packetsDropped)}`);
  for (const c of good) assert.equal(ccErrors(aligned(c.body())), 0, 'reading clients lost nothing');
  const goodLogs = p.logs.filter((l) => l.evt === 'client_disconnect' && l.packetsDropped === 0);
  assert.ok(goodLogs.length >= 2, 'reading clients report zero drops');
  assert.ok(maxRss < 250 * 1024 * 1024, `RSS stayed bounded (${maxRss} bytes)`);
});

test('preamble bytes go first to each client', async () => {
  const up = await paced();
  const dir = tempDir('rs-pre-');
  const pre = join(dir, 'pre.bin');
  writeFileSync(pre, Buffer.from('PREAMBLE-BYTES'));
  const p = await proxy(streamCfg(up.url(), {}, { preamble: pre }));
  const c = new StreamClient(p.url('/live.ts'));
  await until(() => c.bytes > 20 * PKT, 5000, 'data');
  c.close();
  const b = c.body();
  assert.equal(b.subarray(0, 14).toString(), 'PREAMBLE-BYTES');
  assert.equal(b[14], 0x47);
});

test('SIGTERM with 20 clients connected: exit 0, every response ended', async () => {
  const up = await paced();
  const p = await proxy(streamCfg(up.url()));
  // How long it takes is measured in bench/shutdown.ts, not asserted here.
  await sigtermUnderLoad(p, '/live.ts');
  assert.equal(p.exitCode, 0, p.stderr);
});
