import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT, TSX, START_TIMEOUT_MS, ProxyProcess, StreamClient, removeTempDir, tempDir, writeConfig } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';

// The JSON log as multi-process mode produces it: several processes writing batched lines
// to one shared stdout pipe. Every line must arrive whole (writes of whole lines, at most
// PIPE_BUF bytes, are never interleaved), and none may be lost at exit.

test('batched JSON log: four processes sharing one stdout pipe, every line whole and in order, none lost at exit', { timeout: 30000 }, async () => {
  const dir = tempDir('rs-log-');
  try {
    const script = join(dir, 'writer.mts');
    writeFileSync(script, `
      import { createLogger } from ${JSON.stringify(join(ROOT, 'src/log/logger.ts'))};
      const h = createLogger();
      const pad = 'x'.repeat(Number(process.argv[3]));
      for (let i = 0; i < 3000; i++) h.logger.info({ evt: 'line', w: Number(process.argv[2]), i, pad });
      await h.close(10000);
      process.exit(0);
    `);
    // Line lengths vary per writer, so batches end at different offsets.
    const cmd = [1, 2, 3, 4].map((w) => `node --import tsx ${script} ${w} ${w * 97} &`).join(' ') + ' wait';
    const sh = spawn('sh', ['-c', cmd], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    sh.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const code = await new Promise((r) => sh.on('exit', r));
    assert.equal(code, 0);
    const lines = out.split('\n').filter(Boolean);
    const seen = new Map<number, Set<number>>();
    for (const l of lines) {
      const o = JSON.parse(l) as { w: number; i: number; pad: string };
      assert.equal(o.pad.length, o.w * 97, 'line intact');
      if (!seen.has(o.w)) seen.set(o.w, new Set());
      const mine = seen.get(o.w)!;
      assert.equal(o.i, mine.size, `writer ${o.w}: lines in order, none missing before this one`);
      mine.add(o.i);
    }
    for (const w of [1, 2, 3, 4]) assert.equal(seen.get(w)?.size, 3000, `writer ${w}: every line arrived`);
  } finally {
    removeTempDir(dir);
  }
});

// Log formats through the real CLI: readable text for a person at a terminal, JSON lines
// for machines, the Go original's lines for pipelines built on it.

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/;
const started: ProxyProcess[] = [];
after(async () => { for (const p of started) await p.stop(); });

/** The CLI with `cfg` and `args`, its stdout collected as lines (JSON or not). */
function spawnCli(cfg: Record<string, unknown>, args: string[] = []): ProxyProcess {
  const dir = tempDir();
  const path = writeConfig({ listen: '127.0.0.1:0', ...cfg }, dir);
  const p = new ProxyProcess(spawn(process.execPath, ['--import', TSX, CLI, ...args, path], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }), path, dir);
  started.push(p);
  return p;
}

const demoStream = { type: 'stream', serve: '/demo.ts', remote: `file://${join(ROOT, 'examples', 'demo', 'demo.ts')}?loop&realtime` };

/** One viewer comes (gets data) and goes; one request for a path nobody serves. */
async function viewerComesAndGoes(p: ProxyProcess): Promise<void> {
  const c = new StreamClient(p.url('/demo.ts'), { keep: false });
  await c.responded;
  assert.equal(c.status, 200);
  await until(() => c.bytes > 0, 10000, 'data');
  c.close();
  await c.done;
  await new Promise<void>((resolve, reject) => http.get(p.url('/nowhere'), { agent: false }, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject));
}

test('--log-format pretty: one readable line per event, one line when a viewer comes and one when it goes', { timeout: 60000 }, async () => {
  const p = spawnCli({ resources: [demoStream] }, ['--log-format', 'pretty']);
  const listen = await p.waitLog((l) => (l.msg ?? '').includes('listen: listening'), START_TIMEOUT_MS);
  p.port = Number(/"port":(\d+)/.exec(listen.msg!)![1]);
  await p.waitLog((l) => (l.msg ?? '').includes('upstream_connect'), START_TIMEOUT_MS);
  await viewerComesAndGoes(p);
  await p.waitLog((l) => /GET|"path":"\/nowhere"/.test(l.msg ?? ''));
  await p.stop();
  const text = p.logs.map((l) => l.msg ?? JSON.stringify(l));
  for (const line of text) assert.doesNotMatch(line, /^\{"level"/, 'not JSON');
  assert.match(text.find((l) => l.includes('listening'))!, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO/);
  const aboutViewer = text.filter((l) => l.includes('"/demo.ts"') && /client_|access/.test(l));
  assert.deepEqual(aboutViewer.map((l) => /(client_connect|client_disconnect|access)/.exec(l)![1]), ['client_connect', 'client_disconnect'], text.join('\n'));
  assert.ok(text.some((l) => /access: request .*"\/nowhere"/.test(l)), 'other requests keep their line');
});

test('on a terminal the log is readable text by default; through a pipe it is JSON lines', { timeout: 60000 }, async (t) => {
  const script = spawnSync('script', ['--version']);
  if (script.status !== 0) { t.skip('util-linux "script" (a pseudo-terminal) is not installed'); return; }
  const dir = tempDir();
  try {
    const cfg = writeConfig({ listen: '127.0.0.1:0', resources: [{ type: 'api', api: 'health', serve: '/health' }] }, dir);
    // script runs the CLI on a pseudo-terminal; its own group, so the whole of it can be stopped.
    const cmd = [process.execPath, '--import', TSX, CLI, cfg].map((a) => `'${a}'`).join(' ');
    const tty = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let out = '';
    tty.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const exited = new Promise((r) => tty.once('exit', r));
    try {
      await until(() => out.includes('listening'), START_TIMEOUT_MS, `the listen line on the terminal; got: ${out}`);
    } finally {
      try { process.kill(-tty.pid!, 'SIGTERM'); } catch { /* gone */ }
      await exited;
    }
    const line = out.split(/\r?\n/).find((l) => l.includes('listening'))!;
    assert.doesNotMatch(line, /"level":/);
    assert.match(line, /INFO/);
  } finally {
    removeTempDir(dir);
  }
  const piped = spawnCli({ resources: [{ type: 'api', api: 'health', serve: '/health' }] });
  const l = await piped.waitLog((x) => x.evt === 'listen', START_TIMEOUT_MS);
  assert.equal(l.level, 30, 'a JSON line with pino\'s keys');
});

test('"logformat": "restreamer" on stdout: the Go original\'s keys (event, module, message, remote as ip:port on every line about a client, time)', { timeout: 60000 }, async () => {
  const p = spawnCli({ logformat: 'restreamer', resources: [demoStream] });
  const listen = await p.waitLog((l) => l.event === 'listen', START_TIMEOUT_MS);
  p.port = listen.port as number;
  await p.waitLog((l) => l.event === 'upstream_connect', START_TIMEOUT_MS);
  await viewerComesAndGoes(p);
  const gone = await p.waitLog((l) => l.event === 'client_disconnect');
  await p.stop();
  for (const l of p.logs) {
    assert.equal(typeof l.event, 'string', JSON.stringify(l));
    assert.equal(typeof l.module, 'string');
    assert.equal(typeof l.message, 'string');
    assert.match(l.time as string, RFC3339);
    assert.equal(l.evt, undefined);
    assert.equal(l.msg, undefined);
    assert.equal(l.level, undefined);
  }
  assert.equal(listen.module, 'main');
  assert.equal(gone.module, 'connection');
  assert.match(gone.remote as string, /^127\.0\.0\.1:\d+$/);
  // Every line about a client carries its address as the original wrote it, the access
  // lines (the viewer's and the 404's) included.
  const access = p.logs.filter((l) => l.event === 'access');
  assert.equal(access.length, 2, JSON.stringify(p.logs));
  for (const a of access) {
    assert.match(a.remote as string, /^127\.0\.0\.1:\d+$/, JSON.stringify(a));
    assert.equal(a.port, undefined, 'the port is part of remote');
  }
  assert.equal(access[0]!.remote, gone.remote, 'the viewer\'s access line and its client lines name the same ip:port');
  // --log-format overrides the key.
  const json = spawnCli({ logformat: 'restreamer', resources: [demoStream] }, ['--log-format=json']);
  assert.equal((await json.waitLog((l) => l.evt === 'listen', START_TIMEOUT_MS)).level, 30);
});

test('"logformat": "restreamer" with a log file: each line "[<RFC 3339 time>] " and the JSON', { timeout: 60000 }, async () => {
  const dir = tempDir();
  const log = join(dir, 'restreamer.log');
  const p = spawnCli({ logformat: 'restreamer', log, resources: [{ type: 'api', api: 'health', serve: '/health' }] });
  const read = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);
  await until(() => read().some((l) => l.includes('"event":"listen"')), START_TIMEOUT_MS, 'the listen line in the file');
  await p.stop();
  const lines = read();
  assert.ok(lines.length >= 3);
  for (const line of lines) {
    const m = /^\[([^\]]+)\] (\{.*\})$/.exec(line);
    assert.ok(m, `prefixed line: ${line}`);
    assert.match(m[1]!, RFC3339);
    const o = JSON.parse(m[2]!) as Record<string, unknown>;
    assert.match(o.time as string, RFC3339);
    assert.equal(typeof o.event, 'string');
  }
  removeTempDir(dir);
});
