// SIGHUP reload through the real CLI: unchanged streams keep their upstream connection and
// every client; changed ones restart; removed ones end their clients; added ones start;
// authentication and limits apply to new requests at once; the control API's offline
// state survives; an invalid file or a new listen address is refused with the reasons in
// the log and the running configuration kept.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { childPids } from '../helpers/procs.js';
import { StreamClient, type ProxyProcess } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';
import { Scope } from '../helpers/scope.js';

const scope = new Scope();
after(() => scope.close());

function get(p: ProxyProcess, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(p.url(path), { agent: false, headers }, (res) => {
      // Stream answers never end: the status is all we need from them.
      if (res.headers['content-type'] === 'video/mpeg') { resolve({ status: res.statusCode ?? 0, body: '' }); res.destroy(); return; }
      let b = '';
      res.setEncoding('utf8').on('data', (d: string) => { b += d; }).on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.setTimeout(5000, () => req.destroy(new Error(`no answer from ${path}`)));
    req.on('error', reject);
  });
}

function rewrite(p: ProxyProcess, cfg: Record<string, unknown>): void {
  // The address the proxy was started with (port 0: any), as the running configuration has it.
  writeFileSync(p.configPath, JSON.stringify({ listen: '127.0.0.1:0', ...cfg }, null, 2));
}

/** SIGHUP, and the primary's (or single process's) reload line; workers log their own. */
async function hup(p: ProxyProcess, ok: boolean): Promise<Record<string, unknown>> {
  const mine = () => p.logs.filter((l) => l.evt === 'reload' && l.worker === undefined);
  const seen = mine().length;
  p.proc.kill('SIGHUP');
  await until(() => mine().length > seen, 10000, 'reload log line');
  const line = mine().at(-1)!;
  assert.equal(line.ok, ok, JSON.stringify(line));
  return line;
}

const basic = `Basic ${Buffer.from('u:pw').toString('base64')}`;

for (const workers of [1, 2]) {
test(`workers: ${workers} — SIGHUP applies a new configuration without dropping the viewers of unchanged streams`, async () => {
  const [upKeep, upChange, upChange2, upGone, upNew, upOff] = await Promise.all([scope.paced(), scope.paced(), scope.paced(), scope.paced(), scope.paced(), scope.paced()]);
  const base = {
    workers,
    reconnect: 1,
    userlist: { u: { password: 'pw' } },
    resources: [
      { type: 'stream', serve: '/keep.ts', remote: upKeep.url() },
      { type: 'stream', serve: '/change.ts', remote: upChange.url() },
      { type: 'stream', serve: '/gone.ts', remote: upGone.url() },
      { type: 'stream', serve: '/off.ts', remote: upOff.url('/off') },
      { type: 'api', api: 'control', serve: '/control', remote: '/off.ts' },
      { type: 'api', api: 'health', serve: '/health' },
    ],
  };
  const p = await scope.proxy(base);
  await until(() => upKeep.active === 1 && upChange.active === 1 && upGone.active === 1, 10000, 'upstreams connected');
  assert.equal((await get(p, '/control?offline')).status, 202);

  const keep = new StreamClient(p.url('/keep.ts'), { keep: false });
  const change = new StreamClient(p.url('/change.ts'), { keep: false });
  const gone = new StreamClient(p.url('/gone.ts'), { keep: false });
  await until(() => [keep, change, gone].every((c) => c.bytes > 0), 10000, 'viewer data');
  const keepRequests = upKeep.requests;

  rewrite(p, {
    ...base,
    maxconnections: 50,
    resources: [
      // Authentication added: the running viewer stays; new requests need credentials.
      { type: 'stream', serve: '/keep.ts', remote: upKeep.url(), authentication: { type: 'basic', user: 'u' } },
      { type: 'stream', serve: '/change.ts', remote: upChange2.url() },
      { type: 'stream', serve: '/new.ts', remote: upNew.url() },
      { type: 'stream', serve: '/off.ts', remote: upOff.url('/off2') },
      { type: 'api', api: 'control', serve: '/control', remote: '/off.ts' },
      { type: 'api', api: 'health', serve: '/health' },
    ],
  });
  const line = await hup(p, true);
  assert.deepEqual({ keep: line.keep, restart: line.restart, remove: line.remove, add: line.add },
    { keep: ['/keep.ts'], restart: ['/change.ts', '/off.ts'], remove: ['/gone.ts'], add: ['/new.ts'] });

  // Removed and changed streams end their viewers; the kept one goes on, on the same
  // upstream connection.
  await Promise.all([change.done, gone.done]);
  const mark = keep.bytes;
  await until(() => keep.bytes > mark + 188 * 200, 10000, 'kept viewer still fed');
  assert.equal(keep.ended, false);
  assert.equal(upKeep.requests, keepRequests, 'the kept stream did not reconnect');
  await until(() => upChange.active === 0 && upGone.active === 0 && upChange2.active === 1 && upNew.active === 1, 10000, 'upstreams switched');

  assert.equal((await get(p, '/keep.ts')).status, 401, 'new authentication applies to new requests');
  assert.equal((await get(p, '/keep.ts', { Authorization: basic })).status, 200);
  assert.equal((await get(p, '/gone.ts')).status, 404);
  await until(() => upNew.active === 1, 5000, 'new upstream');
  const fresh = new StreamClient(p.url('/new.ts'), { keep: false });
  await until(() => fresh.bytes > 0, 10000, 'added stream serves');
  fresh.close();
  // The control API's offline state survived the restart of /off.ts.
  assert.equal((await get(p, '/off.ts')).status, 404);
  const health = JSON.parse((await get(p, '/health')).body) as { offline: string[]; max: number };
  assert.deepEqual(health.offline, ['/off.ts']);
  assert.equal(health.max, 50, 'the new hard limit applies');
  keep.close();

  if (workers > 1) {
    // A worker started after the reload runs the primary's configuration, not the file's
    // start-up one: kill one, and every new client (on either worker) is served as now.
    // The file changes again without a SIGHUP, here into something invalid: a worker
    // started now must neither read nor need it.
    writeFileSync(p.configPath, '{ "resources": [ { "type": "stream", "serve": 5 } ] }');
    const pid = childPids(p.proc.pid!)[0]!;
    process.kill(pid, 'SIGKILL');
    await p.waitLog((l) => l.msg === 'worker died: starting a new one', 10000);
    await until(() => childPids(p.proc.pid!).length >= 2, 10000, 'replacement worker');
    const before = new Set(p.logs.filter((l) => l.worker !== undefined).map((l) => l.worker));
    const clients = Array.from({ length: 6 }, () => new StreamClient(p.url('/new.ts'), { keep: false }));
    await until(() => clients.every((c) => c.bytes > 0), 15000, 'every new client served');
    for (const c of clients) c.close();
    // ... and the replacement, once ready, serves too: it runs (the primary's configuration).
    const byNew = () => p.logs.some((l) => l.evt === 'client_connect' && l.worker !== undefined && !before.has(l.worker));
    for (const end = Date.now() + 15000; !byNew();) {
      if (Date.now() > end) throw new Error('no client was served by the replacement worker');
      const c = new StreamClient(p.url('/new.ts'), { keep: false });
      await until(() => c.bytes > 0, 10000, 'a new client served');
      c.close();
    }
    assert.equal((await get(p, '/keep.ts')).status, 401);
    assert.equal((await get(p, '/gone.ts')).status, 404);
  }
});
}

test('an invalid file or a new listen address is refused; the running configuration stays', async () => {
  const up = await scope.paced();
  const cfg = { reconnect: 1, resources: [{ type: 'stream', serve: '/live.ts', remote: up.url() }] };
  const p = await scope.proxy(cfg);
  const v = new StreamClient(p.url('/live.ts'), { keep: false });
  await until(() => v.bytes > 0, 10000, 'viewer data');

  writeFileSync(p.configPath, '{ "resources": [ { "type": "stream", "serve": "/live.ts", "remote": 5 } ] }');
  const bad = await hup(p, false);
  assert.match(String(bad.msg), /resources\[0\]\.remote/);
  assert.equal(bad.code, 'CONFIG_INVALID');

  writeFileSync(p.configPath, JSON.stringify({ listen: '127.0.0.1:1', ...cfg }));
  const moved = await hup(p, false);
  assert.match(String(moved.msg), /"listen" cannot change while running/);
  assert.equal(moved.code, 'RELOAD_REFUSED');

  const mark = v.bytes;
  await until(() => v.bytes > mark + 188 * 100, 10000, 'viewer still fed');
  assert.equal(v.ended, false);
  assert.equal(p.exitCode, null);
  v.close();
});
