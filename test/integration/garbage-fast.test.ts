// Garbage fails fast (issue 21), end to end through the real CLI: a remote that sends
// bytes without a single aligned packet fails once 64 KiB of it were discarded, not after
// the lock time or readtimeout, so a stream with eleven garbage remotes and one good one
// is on the good one within a couple of seconds (measured: about 0.6 s for the eleven in
// a row, against 11 x 5 s before), and each garbage remote is logged as a failed attempt.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { StreamClient, type LogLine } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';
import { Scope } from '../helpers/scope.js';
import { PKT } from '../helpers/packets.js';
import { rng, syncGarbage } from '../helpers/garbage.js';

const scope = new Scope();
after(() => scope.close());

/** What /junk<i>.ts sends: random bytes, text, a few 0x47 at no packet spacing, zeros. */
function junkMaker(i: number): () => Buffer {
  const r = rng(1000 + i);
  const html = Buffer.from('<!doctype html><html><body><p>Not a transport stream.</p></body></html>\n'.repeat(300));
  switch (i % 4) {
    case 0: return () => syncGarbage(16384, 1 / 256, r);
    case 1: return () => html;
    case 2: return () => syncGarbage(16384, 1 / 40, r);
    default: return () => Buffer.alloc(16384);
  }
}

/** An HTTP upstream answering 200 on /junk<i>.ts and sending that garbage (about 16 KiB every 10 ms) until the client goes. */
async function garbageServer(): Promise<{ url: (i: number) => string; connectedAt: number[] }> {
  const connectedAt: number[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    connectedAt.push(Date.now());
    res.writeHead(200, { 'Content-Type': 'video/mp2t' });
    const make = junkMaker(Number(/\d+/.exec(req.url ?? '')?.[0] ?? 0));
    const t = setInterval(() => { res.write(make()); }, 10);
    timers.add(t);
    res.on('close', () => { clearInterval(t); timers.delete(t); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  scope.defer(() => new Promise<void>((r) => { for (const t of timers) clearInterval(t); server.closeAllConnections(); server.close(() => r()); }));
  const port = (server.address() as net.AddressInfo).port;
  return { url: (i) => `http://127.0.0.1:${port}/junk${i}.ts`, connectedAt };
}

const timeOf = (l: LogLine): number => Date.parse(String(l.time));

for (const failover of ['health', 'connection'] as const) {
  const order = failover === 'health' ? 'listed order: all eleven first' : 'shuffled order';
  test(`failover "${failover}" (${order}): eleven garbage remotes and one good one: on the good one within 3 s of the first attempt, each garbage one failed after about 64 KiB`, async () => {
    const junk = await garbageServer();
    const good = await scope.paced();
    const bad = Array.from({ length: 11 }, (_, i) => junk.url(i));
    // readtimeout 0: before, garbage failed after the 5 s lock time (a readtimeout would bound it likewise).
    const p = await scope.proxy({
      reconnect: 5, timeout: 3, readtimeout: 0,
      resources: [{ type: 'stream', serve: '/live.ts', remote: bad[0], remotes: [...bad.slice(1), good.url()], failover }],
    }, false);
    const up = await p.waitLog((l) => l.evt === 'upstream_connect', 20_000);
    assert.equal(up.url, good.url());
    const failed = p.logs.filter((l) => l.evt === 'upstream_error');
    const tried = junk.connectedAt.length;
    if (failover === 'health') assert.equal(tried, 11, 'every garbage remote tried, in the listed order, before the good one');
    assert.equal(failed.length, tried, `one failure line per garbage remote tried: ${JSON.stringify(failed)}`);
    for (const f of failed) {
      assert.equal(f.code, 'UPSTREAM_NO_SYNC', JSON.stringify(f));
      assert.match(String(f.err), /no lock within 64 KiB/);
      const bytes = f.bytes as number;
      const discarded = f.discarded as number;
      assert.ok(discarded > 64 * 1024 && bytes >= discarded && bytes < 64 * 1024 + 4 * 22_000, `bytes ${bytes}, discarded ${discarded}`);
    }
    assert.ok(!p.logs.some((l) => l.evt === 'upstream_connect' && l.url !== good.url()), 'no garbage remote counted as connected');
    const took = tried > 0 ? timeOf(up) - junk.connectedAt[0]! : 0;
    assert.ok(took < 3000, `on the good remote ${took} ms after the first garbage one was connected (${tried} tried)`);
    const c = new StreamClient(p.url('/live.ts'));
    await until(() => c.bytes > 20 * PKT, 10_000, 'data from the good remote');
    c.close();
    assert.equal(c.status, 200);
    await p.stop();
  });
}
