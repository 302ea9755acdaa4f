// At start, a warning when maxconnections plus the upstreams cannot fit under the
// open-file limit, with the fix (a client beyond it would be refused at accept).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { CLI, ProxyProcess, ROOT, TSX, writeConfig } from '../helpers/proxy.js';

const procs: ProxyProcess[] = [];
after(async () => { for (const p of procs) await p.stop(); });

function startWithLimit(nofile: number, cfg: Record<string, unknown>): ProxyProcess {
  const path = writeConfig({ listen: '127.0.0.1:0', ...cfg });
  const cmd = `ulimit -n ${nofile} && exec "$0" --import "$1" "$2" "$3"`;
  const p = new ProxyProcess(spawn('/bin/sh', ['-c', cmd, process.execPath, TSX, CLI, path], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }), path);
  procs.push(p);
  return p;
}

test('maxconnections above the open-file limit: a warning naming the limit and the fix', async () => {
  const p = startWithLimit(512, { maxconnections: 2000, resources: [{ type: 'api', api: 'health', serve: '/health' }] });
  const w = await p.waitLog((l) => typeof l.msg === 'string' && l.msg.includes('open-file limit'), 15000);
  assert.match(String(w.msg), /open-file limit is 512/);
  assert.match(String(w.msg), /LimitNOFILE=/);
  await p.waitLog((l) => l.evt === 'listen', 15000);
});

test('within the limit: no such warning', async () => {
  const p = startWithLimit(4096, { maxconnections: 100, resources: [{ type: 'api', api: 'health', serve: '/health' }] });
  await p.waitLog((l) => l.evt === 'listen', 15000);
  assert.ok(!p.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('open-file limit')));
});
