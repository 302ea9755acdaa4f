// A process loads only what its role and configuration use (issue 24: memory), through
// the real CLI with every module it resolves logged (test/helpers/module-log.ts): the
// prometheus API's module and prom-client, and the status page's, only with such a
// resource (also when a reload adds one); a multi-process worker neither those nor zod.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProxy, tempDir, removeTempDir, type ProxyProcess } from '../helpers/proxy.js';
import { loadedModules, moduleLogEnv } from '../helpers/module-log.js';
import { until } from '../helpers/wait.js';

const dir = tempDir('rs-modules-');
const running: ProxyProcess[] = [];
after(async () => { await Promise.all(running.map((p) => p.stop())); removeTempDir(dir); });

/** Which of the telling modules a process loaded. */
function telling(urls: readonly string[]): Record<string, boolean> {
  const has = (re: RegExp) => urls.some((u) => re.test(u));
  return {
    zod: has(/\/node_modules\/zod\//),
    promClient: has(/\/node_modules\/prom-client\//),
    prometheus: has(/\/src\/metrics\/prometheus\.ts$/),
    statusPage: has(/\/src\/status\/page\.ts$/),
  };
}

const stream = { type: 'stream', serve: '/a.ts', remote: 'http://127.0.0.1:9/a.ts' };
const apis = [{ type: 'api', api: 'prometheus', serve: '/metrics' }, { type: 'api', api: 'status', serve: '/status' }];

async function run(name: string, cfg: Record<string, unknown>): Promise<{ p: ProxyProcess; modules: () => Map<number, string[]> }> {
  const prefix = join(dir, name);
  const p = await startProxy(cfg, { env: moduleLogEnv(prefix) });
  running.push(p);
  return { p, modules: () => loadedModules(prefix) };
}

test('one process: prom-client and the status page only with a resource serving them, also when a reload adds one', async () => {
  const bare = await run('bare', { resources: [stream, { type: 'api', api: 'health', serve: '/health' }] });
  const full = await run('full', { resources: [stream, ...apis] });
  const own = (r: Awaited<ReturnType<typeof run>>) => telling(r.modules().get(r.p.proc.pid!) ?? []);
  // zod validates the configuration: the log does see a dependency that is loaded.
  assert.deepEqual(own(bare), { zod: true, promClient: false, prometheus: false, statusPage: false });
  assert.deepEqual(own(full), { zod: true, promClient: true, prometheus: true, statusPage: true });

  writeFileSync(bare.p.configPath, JSON.stringify({ listen: '127.0.0.1:0', resources: [stream, ...apis] }));
  bare.p.proc.kill('SIGHUP');
  await until(() => bare.p.logs.some((l) => l.evt === 'reload'), 10_000, 'the reload');
  assert.equal(bare.p.logs.find((l) => l.evt === 'reload')!.ok, true);
  await until(async () => (await fetch(bare.p.url('/metrics'))).status === 200, 10_000, 'the metrics answering');
  assert.deepEqual(own(bare), { zod: true, promClient: true, prometheus: true, statusPage: true });
});

test('workers: 2 — the primary loads the prometheus and status modules it answers with; the workers forward them and load neither, nor zod', async () => {
  const { p, modules } = await run('cluster', { workers: 2, resources: [stream, ...apis] });
  await until(async () => (await fetch(p.url('/metrics'))).status === 200, 10_000, 'the metrics answering');
  const byPid = modules();
  assert.deepEqual(telling(byPid.get(p.proc.pid!) ?? []), { zod: true, promClient: true, prometheus: true, statusPage: true });
  const workers = [...byPid.keys()].filter((pid) => pid !== p.proc.pid);
  assert.equal(workers.length, 2, `one module log per worker: ${JSON.stringify([...byPid.keys()])}`);
  for (const w of workers) {
    const urls = byPid.get(w)!;
    assert.ok(urls.some((u) => u.endsWith('/src/roles/worker.ts')), 'a worker process');
    assert.deepEqual(telling(urls), { zod: false, promClient: false, prometheus: false, statusPage: false });
  }
});
