// Garbage from upstreams, end to end through the real CLI (issues 10 and 13):
// - garbage inserted between intact packets costs no packet and passes no corrupt one;
// - an upstream that sends only garbage is a failed remote: logged, failed as soon as 64
//   KiB were discarded (well before readtimeout), reported as not connected, its clients
//   get 404; a good remote serves within reconnect;
// - 192-byte (M2TS) input is served as 188-byte packets.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamClient } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';
import { fixtureTs, probeCodecs, tsByteRate } from '../helpers/upstream.js';
import { Scope } from '../helpers/scope.js';
import { ccErrors, PKT } from '../helpers/packets.js';
import { rng, syncGarbage } from '../helpers/garbage.js';

const scope = new Scope();
after(() => scope.close());

/**
 * An HTTP upstream looping `data` (whole packets, continuity counters rewritten so the
 * loop point is seamless) at `bytesPerSec` in 10 ms slices, with `inject()` bytes after
 * every `every` packets. `inject` returning an empty buffer sends the stream clean.
 */
async function injectingServer(data: Buffer, bytesPerSec: number, every: number, inject: () => Buffer): Promise<{ url: string; bursts: () => number }> {
  let bursts = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'video/mp2t' });
    const npk = Math.floor(data.length / PKT);
    const perTick = Math.max(1, Math.round(bytesPerSec / 100 / PKT));
    const cc = new Uint8Array(8192);
    let pk = 0;
    let sent = 0;
    const t = setInterval(() => {
      const parts: Buffer[] = [];
      for (let i = 0; i < perTick; i++) {
        const p = Buffer.from(data.subarray(pk * PKT, pk * PKT + PKT));
        const pid = ((p[1]! & 0x1f) << 8) | p[2]!;
        if (pid !== 0x1fff && (p[3]! & 0x10)) {
          p[3] = (p[3]! & 0xf0) | cc[pid]!;
          cc[pid] = (cc[pid]! + 1) & 0x0f;
        }
        parts.push(p);
        pk = (pk + 1) % npk;
        if (++sent % every === 0) {
          const g = inject();
          if (g.length) { parts.push(g); bursts++; }
        }
      }
      res.write(Buffer.concat(parts));
    }, 10);
    timers.add(t);
    res.on('close', () => { clearInterval(t); timers.delete(t); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  scope.defer(() => new Promise<void>((r) => { for (const t of timers) clearInterval(t); server.closeAllConnections(); server.close(() => r()); }));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/live.ts`, bursts: () => bursts };
}

/** An HTTP upstream that answers 200 and then sends random bytes (as /dev/urandom would), forever. */
async function garbageServer(): Promise<{ url: string; connections: () => number; connectedAt: number[] }> {
  let connections = 0;
  const connectedAt: number[] = [];
  const r = rng(42);
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((_req, res) => {
    connections++;
    connectedAt.push(Date.now());
    res.writeHead(200, { 'Content-Type': 'video/mp2t' });
    const t = setInterval(() => {
      const b = Buffer.alloc(4096);
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
      res.write(b);
    }, 10);
    timers.add(t);
    res.on('close', () => { clearInterval(t); timers.delete(t); });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  scope.defer(() => new Promise<void>((res) => { for (const t of timers) clearInterval(t); server.closeAllConnections(); server.close(() => res()); }));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/junk.ts`, connections: () => connections, connectedAt };
}

/** Sync errors in a capture: bytes not a whole number of packets, or a packet without 0x47. */
function syncErrors(buf: Buffer): number {
  let errors = buf.length % PKT === 0 ? 0 : 1;
  for (let o = 0; o + PKT <= buf.length; o += PKT) if (buf[o] !== 0x47) errors++;
  return errors;
}

async function getJson(url: string): Promise<{ status: number; body: string; json: () => Record<string, unknown> }> {
  const c = new StreamClient(url);
  await c.done;
  const body = c.body().toString();
  return { status: c.status, body, json: () => JSON.parse(body) as Record<string, unknown> };
}

const apis = [
  { type: 'api', api: 'check', serve: '/check', remote: '/live.ts' },
  { type: 'api', api: 'statistics', serve: '/statistics' },
  { type: 'api', api: 'health', serve: '/health' },
];

test('37 bytes of garbage (a third 0x47) after every 50 packets: clients see 0 continuity errors and 0 sync errors', async () => {
  const file = fixtureTs();
  const data = readFileSync(file);
  const r = rng(1337);
  const rate = 4 * tsByteRate(file); // four times real time: more bursts per second
  const up = await injectingServer(data, rate, 50, () => syncGarbage(37, 1 / 3, r));
  const p = await scope.proxy({ reconnect: 1, timeout: 3, resources: [{ type: 'stream', serve: '/live.ts', remote: up.url }, ...apis] });
  const clients = [0, 1, 2].map(() => new StreamClient(p.url('/live.ts')));
  const bursts0 = up.bursts();
  // Each client gets at least 150 bursts' worth of packets (7500 packets).
  await until(() => clients.every((c) => c.bytes >= 150 * 50 * PKT) && up.bursts() - bursts0 >= 150, 60000, 'data through 150 bursts');
  for (const c of clients) c.close();
  for (const [i, c] of clients.entries()) {
    const body = c.body();
    assert.equal(syncErrors(body.subarray(0, body.length - (body.length % PKT))), 0, `client ${i}: sync errors`);
    assert.equal(ccErrors(body), 0, `client ${i}: continuity errors`);
  }
  const stats = (await getJson(p.url('/statistics'))).json();
  const live = (stats.streams as Record<string, Record<string, unknown>>)['/live.ts']!;
  assert.equal(live.packet_size, 188);
  // Exactly the garbage was discarded: 37 bytes per burst (the last bursts may still be in flight).
  const discarded = live.discarded_bytes as number;
  assert.ok(discarded > 0 && discarded % 37 === 0, `discarded ${discarded} bytes (a multiple of 37)`);
  await until(() => p.logs.some((l) => l.evt === 'upstream_info' && l.packetSize === 188), 5000, 'lock logged');
});

test('a garbage-only remote fails at once (64 KiB, before readtimeout) and is offline everywhere meanwhile; a good remote serves within reconnect', async () => {
  const READ_TIMEOUT = 2;
  const RECONNECT = 1;
  const junk = await garbageServer();
  // The good remote answers 404 until the offline state has been checked: meanwhile the
  // stream goes round its remotes (garbage failed, 404) and is never connected.
  let goodOn = false;
  const file = fixtureTs();
  const good = await injectingServer(readFileSync(file), tsByteRate(file), 1e9, () => Buffer.alloc(0));
  const goodGate = http.createServer((req, res) => {
    if (!goodOn) { res.writeHead(404).end(); return; }
    const u = new URL(good.url);
    const pr = http.get({ host: u.hostname, port: u.port, path: u.pathname }, (ur) => { res.writeHead(ur.statusCode ?? 502, ur.headers); ur.pipe(res); });
    req.on('close', () => pr.destroy());
    pr.on('error', () => res.destroy());
  });
  await new Promise<void>((r) => goodGate.listen(0, '127.0.0.1', () => r()));
  scope.defer(() => new Promise<void>((r) => { goodGate.closeAllConnections(); goodGate.close(() => r()); }));
  const goodUrl = `http://127.0.0.1:${(goodGate.address() as net.AddressInfo).port}/live.ts`;

  const p = await scope.proxy({
    reconnect: RECONNECT, timeout: 3, readtimeout: READ_TIMEOUT,
    resources: [{ type: 'stream', serve: '/live.ts', remote: junk.url, remotes: [goodUrl] }, ...apis],
  }, false);
  await until(() => junk.connections() >= 1, 10000, 'the garbage remote connected');
  // The garbage remote failed well before readtimeout: 64 KiB discarded without a packet.
  const failed = await p.waitLog((l) => l.evt === 'upstream_error' && l.url === junk.url, 10000);
  assert.equal(failed.code, 'UPSTREAM_NO_SYNC', JSON.stringify(failed));
  assert.ok((failed.bytes as number) > 64 * 1024 && (failed.discarded as number) > 64 * 1024, 'bytes and discarded bytes in the log line');
  const failedAfter = Date.parse(String(failed.time)) - junk.connectedAt[0]!;
  assert.ok(failedAfter < READ_TIMEOUT * 1000 / 2, `failed ${failedAfter} ms after it connected`);
  // While no remote serves: 404 for clients (at once, not an empty 200), check 404, not connected.
  const c = new StreamClient(p.url('/live.ts'));
  await c.responded; // bounded: an answer comes at once, whatever it is
  c.close();
  assert.equal(c.status, 404);
  assert.equal((await getJson(p.url('/check'))).status, 404);
  const st = ((await getJson(p.url('/statistics'))).json().streams as Record<string, Record<string, unknown>>)['/live.ts']!;
  assert.equal(st.connected, false);
  assert.deepEqual((await getJson(p.url('/health'))).json().down, ['/live.ts']);
  const t0 = Date.now();
  goodOn = true;
  // On the good remote within reconnect (the next round; plus a margin for a busy machine).
  const up = await p.waitLog((l) => l.evt === 'upstream_connect', (RECONNECT + 3) * 1000);
  const took = Date.now() - t0;
  assert.equal(up.url, goodUrl);
  assert.ok(!p.logs.some((l) => l.evt === 'upstream_connect' && l.url === junk.url), 'the garbage remote never counted as connected');
  assert.ok(took <= (RECONNECT + 3) * 1000, `failover took ${took} ms`);
  // Now served.
  const ok = new StreamClient(p.url('/live.ts'));
  await until(() => ok.bytes > 20 * PKT, 10000, 'data from the good remote');
  ok.close();
  assert.equal(ok.status, 200);
  assert.equal((await getJson(p.url('/check'))).status, 200);
  assert.deepEqual((await getJson(p.url('/health'))).json().down, []);
  // The garbage was summarised as discarded input (aligner_discard) or in the failure line.
  await p.stop();
  assert.ok(p.logs.some((l) => l.evt === 'aligner_discard'), 'discards summarised in the log');
});

test('192-byte M2TS input (ffmpeg -mpegts_m2ts_mode 1) is served as 188-byte packets that ffprobe reads', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-garbage-m2ts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'clip.m2ts');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', fixtureTs(), '-c', 'copy', '-f', 'mpegts', '-mpegts_m2ts_mode', '1', f]);
  const p = await scope.proxy({ reconnect: 1, resources: [{ type: 'stream', serve: '/live.ts', remote: `file://${f}?loop&realtime` }, ...apis] });
  const lock = await p.waitLog((l) => l.evt === 'upstream_info' && l.packetSize === 192, 5000);
  assert.match(String(lock.msg), /192-byte packets, converted to 188/);
  const c = new StreamClient(p.url('/live.ts'));
  await until(() => c.bytes > 400 * PKT, 15000, 'data');
  c.close();
  const body = c.body();
  assert.equal(syncErrors(body.subarray(0, body.length - (body.length % PKT))), 0);
  const st = ((await getJson(p.url('/statistics'))).json().streams as Record<string, Record<string, unknown>>)['/live.ts']!;
  assert.equal(st.packet_size, 192);
  assert.deepEqual(probeCodecs(p.url('/live.ts')), ['aac', 'h264']);
});
