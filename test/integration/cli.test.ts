// The CLI as an operator meets it once it starts: start-up failures (one line, exit 1),
// --listen, Ctrl-C. What it decides before listening (help, version, bad usage, --check,
// bad configs) is in test/unit/cli.test.ts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { runCli, writeConfig, startProxy, tempDir, removeTempDir, StreamClient, ROOT, type ProxyProcess } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';

const started: ProxyProcess[] = [];
after(async () => { for (const p of started) await p.stop(); });

/** A start-up failure: exit 1, exactly one line on stderr, no stack trace. */
function assertOneLine(r: { code: number | null; stderr: string }, re: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  // Configuration warnings (printed before the start) are not part of the failure.
  const lines = r.stderr.split('\n').filter((l) => l && !l.startsWith('restreamer: warning:'));
  assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
  assert.match(lines[0]!, re);
  assert.doesNotMatch(r.stderr, /\n\s+at |node:internal|Error:/, 'no stack trace');
}

/** A port that is taken for the duration of `fn`. */
async function withBusyPort<T>(fn: (port: number) => Promise<T>): Promise<T> {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  try {
    return await fn((blocker.address() as net.AddressInfo).port);
  } finally {
    await new Promise((r) => blocker.close(r));
  }
}

test('a port already in use: exit 1, one line with the address, the reason and a way out', async () => {
  await withBusyPort(async (port) => {
    const dir = tempDir();
    try {
      const cfg = writeConfig({ listen: `127.0.0.1:${port}`, resources: [{ type: 'stream', serve: '/a.ts', remote: 'http://127.0.0.1:9/x.ts' }] }, dir);
      assertOneLine(await runCli([cfg]), new RegExp(`^restreamer: LISTEN_FAILED: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE.*--listen`));
      // Multi-process mode: the workers' failure is reported the same way, and nothing hangs.
      // (Node's cluster module may add a dying worker's own trace after it: the first line
      // is ours.)
      const cfg2 = writeConfig({ listen: `127.0.0.1:${port}`, workers: 2, resources: [{ type: 'stream', serve: '/a.ts', remote: 'http://127.0.0.1:9/x.ts' }] }, tempDir());
      const multi = await runCli([cfg2]);
      assert.equal(multi.code, 1, multi.stderr);
      assert.match(multi.stderr.split('\n')[0]!, /^restreamer: LISTEN_FAILED: cannot listen on .*EADDRINUSE/);
    } finally {
      removeTempDir(dir);
    }
  });
});

test('--demo on a busy port says how to pick another; --demo --listen serves on the address given', async () => {
  await withBusyPort(async (port) => {
    assertOneLine(await runCli(['--demo', '--listen', `127.0.0.1:${port}`]), /^restreamer: LISTEN_FAILED: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE.*restreamer --demo --listen :8080/);
  });
  const p = await startProxy({}, { args: ['--demo', '--listen=127.0.0.1:0'] });
  started.push(p);
  await p.waitLog((l) => l.evt === 'upstream_connect' && l.stream === '/');
  // Served once the first packets are in (bounded).
  await until(async () => {
    const c = new StreamClient(p.url('/'), { keep: false });
    await c.responded;
    c.close();
    return c.status === 200;
  }, 10000, 'the demo stream on the --listen address');
  const bad = await runCli(['--demo', '--listen', 'nonsense']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^restreamer: CONFIG_INVALID: --listen: invalid listen address "nonsense"/);
  assert.equal((await runCli(['--demo', '--listen'])).code, 2);
  const fmt = await runCli(['--log-format', 'xml', '--check', join(ROOT, 'examples', 'minimal', 'restreamer.json')]);
  assert.equal(fmt.code, 2);
  assert.match(fmt.stderr, /^restreamer: CLI_USAGE: --log-format must be one of auto, json, pretty, restreamer/);
});

test('a log file that cannot be opened: start fails in one line (exit 1), --check says so (exit 2) and creates nothing', async () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const resources = [{ type: 'stream', serve: '/a.ts', remote: 'http://127.0.0.1:9/x.ts' }, { type: 'api', api: 'health', serve: '/health' }];
    // A path under a regular file: no one can create it, root included.
    const under = writeConfig({ listen: '127.0.0.1:0', log: join(file, 'logs', 'restreamer.log'), resources }, dir);
    assertOneLine(await runCli([under]), /^restreamer: LOG_UNWRITABLE: cannot open the log file .*a-file\/logs\/restreamer\.log: .*a-file is not a directory/);
    const checked = await runCli(['--check', under]);
    assert.equal(checked.code, 2, checked.stderr);
    assert.match(checked.stderr, /^restreamer: CONFIG_INVALID: invalid configuration .*:\n {2}log: cannot open the log file .*a-file is not a directory/);
    // A folder named as the log file.
    const folder = writeConfig({ listen: '127.0.0.1:0', log: dir, resources }, tempDir());
    assertOneLine(await runCli([folder]), /^restreamer: LOG_UNWRITABLE: cannot open the log file .*: .* is a directory/);
    assert.equal((await runCli(['--check', folder])).code, 2);
    // A log file in folders that do not exist yet: --check accepts it and creates nothing.
    const fresh = join(dir, 'new', 'sub', 'restreamer.log');
    const ok = await runCli(['--check', writeConfig({ listen: '127.0.0.1:0', log: fresh, resources }, tempDir())]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(existsSync(join(dir, 'new')), false, '--check created nothing');
  } finally {
    removeTempDir(dir);
  }
});

test('a start failure that is not a listen failure says what failed: the internal socket of the worker processes', async () => {
  const dir = tempDir();
  try {
    // A TMPDIR that is a file: the primary cannot make the folder of its internal socket.
    // (tsx, which runs the CLI here, would cache in TMPDIR: told not to.)
    const notDir = join(dir, 'a-file');
    writeFileSync(notDir, 'x');
    const cfg = writeConfig({ listen: '127.0.0.1:0', workers: 2, resources: [{ type: 'stream', serve: '/a.ts', remote: 'http://127.0.0.1:9/x.ts' }] }, dir);
    const r = await runCli([cfg], { env: { ...process.env, TMPDIR: notDir, TSX_DISABLE_CACHE: '1' } });
    assertOneLine(r, /^restreamer: INTERNAL_SOCKET: cannot create the internal socket of the worker processes in .*a-file: .*ENOTDIR.*TMPDIR/);
    assert.doesNotMatch(r.stderr, /cannot listen/);
  } finally {
    removeTempDir(dir);
  }
});

test('Ctrl-C (SIGINT): without clients the proxy exits 0; with a viewer it ends the viewer\'s response cleanly first', async () => {
  const demo = join(ROOT, 'examples', 'demo', 'demo.ts');
  const cfg = { resources: [{ type: 'stream', serve: '/demo.ts', remote: `file://${demo}?loop&realtime` }] };
  const idle = await startProxy(cfg, { waitStreams: true });
  started.push(idle);
  idle.proc.kill('SIGINT');
  await idle.exited;
  assert.equal(idle.exitCode, 0, idle.stderr);

  const busy = await startProxy(cfg, { waitStreams: true });
  started.push(busy);
  const viewer = new StreamClient(busy.url('/demo.ts'), { keep: false });
  await viewer.responded;
  assert.equal(viewer.status, 200);
  await busy.waitLog((l) => l.evt === 'client_connect');
  busy.proc.kill('SIGINT');
  await Promise.all([busy.exited, viewer.done]);
  assert.equal(busy.exitCode, 0, busy.stderr);
  assert.ok(viewer.bytes > 0);
  assert.equal(viewer.ended, true, 'the response ended with its last chunk, not cut off');
  assert.equal(viewer.res?.complete, true);
});
