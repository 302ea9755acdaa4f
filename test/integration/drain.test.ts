// SIGTERM with `drain`: health turns "full" at once so load balancers stop sending, the
// viewers already there keep streaming until they leave (then the process exits) or the
// drain time ends (then they are ended cleanly). In one process and with workers, where
// systemd's SIGTERM reaches every process of the group.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { childPids } from '../helpers/procs.js';
import { StreamClient } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';
import { Scope } from '../helpers/scope.js';

const scope = new Scope();
after(() => scope.close());

function health(url: string): Promise<{ status: string; viewer: number; draining?: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let b = '';
      res.setEncoding('utf8').on('data', (d: string) => { b += d; }).on('end', () => {
        try { const h = JSON.parse(b) as { status: string; viewer: number; draining?: boolean }; resolve(h); } catch (e) { reject(e); }
      });
    });
    req.setTimeout(4000, () => req.destroy(new Error('no answer from health')));
    req.on('error', reject);
  });
}

for (const workers of [1, 2]) {
  test(`workers: ${workers} — drain: viewers keep streaming, health says full, exit when the last one leaves`, async () => {
    const up = await scope.paced();
    const p = await scope.proxy({ workers, drain: 60, reconnect: 1, resources: [
      { type: 'stream', serve: '/live.ts', remote: up.url() },
      { type: 'api', api: 'health', serve: '/health' },
    ] });
    const viewers = [new StreamClient(p.url('/live.ts'), { keep: false }), new StreamClient(p.url('/live.ts'), { keep: false })];
    await until(() => viewers.every((v) => v.bytes > 0), 10000, 'viewer data');
    assert.equal((await health(p.url('/health'))).status, 'ok');

    // As systemd does: SIGTERM to every process of the group.
    const group = workers > 1 ? [p.proc.pid!, ...childPids(p.proc.pid!)] : [p.proc.pid!];
    for (const pid of group) process.kill(pid, 'SIGTERM');
    await p.waitLog((l) => l.msg === 'draining before shutdown' || (typeof l.msg === 'string' && l.msg.startsWith('draining')), 5000);
    const h = await health(p.url('/health'));
    assert.equal(h.status, 'full');
    assert.equal(h.draining, true);
    assert.equal(h.viewer, 2);

    // Still streaming after the signal.
    const marks = viewers.map((v) => v.bytes);
    await until(() => viewers.every((v, i) => v.bytes > marks[i]! + 188 * 100), 10000, 'viewers still fed while draining');
    assert.equal(p.exitCode, null, 'still running while viewers watch');

    viewers[0]!.close();
    await until(() => viewers[1]!.bytes > marks[1]! + 188 * 200, 10000, 'the other viewer still fed');
    assert.equal(p.exitCode, null);
    viewers[1]!.close();
    // The last viewer left: the drain ends without waiting out its 60 s.
    await Promise.race([p.exited, new Promise((_r, rej) => setTimeout(() => rej(new Error('did not exit after the last viewer left')), 15000))]);
    assert.equal(p.exitCode, 0);
  });
}

test('drain time ends: remaining viewers are ended cleanly and the process exits 0', async () => {
  const up = await scope.paced();
  const p = await scope.proxy({ drain: 1, reconnect: 1, resources: [{ type: 'stream', serve: '/live.ts', remote: up.url() }] });
  const v = new StreamClient(p.url('/live.ts'), { keep: false });
  await until(() => v.bytes > 0, 10000, 'viewer data');
  p.proc.kill('SIGTERM');
  await Promise.race([p.exited, new Promise((_r, rej) => setTimeout(() => rej(new Error('did not exit after the drain time')), 15000))]);
  await v.done;
  assert.equal(p.exitCode, 0);
  assert.equal(v.ended, true, 'the response was ended cleanly (chunked terminator), not cut');
});

test('a second signal during the drain stops at once', async () => {
  const up = await scope.paced();
  const p = await scope.proxy({ drain: 600, reconnect: 1, resources: [{ type: 'stream', serve: '/live.ts', remote: up.url() }] });
  const v = new StreamClient(p.url('/live.ts'), { keep: false });
  await until(() => v.bytes > 0, 10000, 'viewer data');
  p.proc.kill('SIGTERM');
  await p.waitLog((l) => typeof l.msg === 'string' && l.msg.startsWith('draining'), 5000);
  p.proc.kill('SIGINT');
  await Promise.race([p.exited, new Promise((_r, rej) => setTimeout(() => rej(new Error('did not stop on the second signal')), 15000))]);
  assert.equal(p.exitCode, 0);
  v.close();
});

