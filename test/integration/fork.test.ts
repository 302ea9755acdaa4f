import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { forkKind, parseForkUrl, ForkUpstream } from '../../src/sources/kinds/fork.js';
import { Supervisor } from '../../src/sources/supervisor.js';
import type { RestreamerError } from '../../src/errors.js';
import { silentLogger } from '../../src/log/logger.js';
import { testContext } from '../helpers/datagram.js';
import { until } from '../helpers/wait.js';

// fork:// with real processes: ffmpeg as an encoder, node -e scripts for the rest.

const NODE = process.execPath;
const ROOT = resolve(import.meta.dirname, '..', '..');

/** fork URL running `node -e script args...` in the arg= form. */
function nodeUrl(script: string, ...args: string[]): string {
  return `fork://${NODE}?${['-e', script, ...args].map((a) => `arg=${encodeURIComponent(a)}`).join('&')}`;
}

/** Is `pid` still in the process table (zombies included)? */
function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

/** Opened as the registry does, or, with `graceMs`, with a shorter SIGTERM-to-SIGKILL grace. */
function open(url: string, graceMs?: number) {
  const { ctx, lines } = testContext(url);
  const chunks: Buffer[] = [];
  const onData = (b: Buffer) => { chunks.push(b); };
  const up = graceMs === undefined ? forkKind.open(ctx, onData) : new ForkUpstream(ctx.log, parseForkUrl(ctx.url), onData, graceMs);
  assert.ok(up instanceof ForkUpstream);
  return { up, lines, chunks, data: () => Buffer.concat(chunks) };
}

test('parseForkUrl: the original + form, the command on PATH, and the arg= form', () => {
  const p = (u: string) => parseForkUrl(new URL(u));
  assert.deepEqual(p('fork:///usr/bin/ffmpeg?-i+in%20file.ts+-f+mpegts+pipe:1'), { command: '/usr/bin/ffmpeg', args: ['-i', 'in file.ts', '-f', 'mpegts', 'pipe:1'] });
  assert.deepEqual(p('fork://ffmpeg?-i+x'), { command: 'ffmpeg', args: ['-i', 'x'] });
  assert.deepEqual(p('fork://FFmpeg/?a%2Bb'), { command: 'FFmpeg', args: ['a+b'] });
  assert.deepEqual(p('fork:///bin/true'), { command: '/bin/true', args: [] });
  assert.deepEqual(p('fork:///opt/my%20tools/enc?a++b'), { command: '/opt/my tools/enc', args: ['a', 'b'] });
  assert.deepEqual(p('fork:///usr/bin/ffmpeg?arg=-i&arg=/in%20dir/a+b.ts&arg=&arg=x%3Dy'), { command: '/usr/bin/ffmpeg', args: ['-i', '/in dir/a+b.ts', '', 'x=y'] });
  assert.throws(() => p('fork:///x?arg=1&foo=2'), /every query parameter must be arg/);
  assert.throws(() => p('fork:///x?a%ZZ'), /invalid %-escape/);
  assert.match(forkKind.validate!(new URL('fork://'))!, /no command/);
  assert.equal(forkKind.validate!(new URL('fork:///usr/bin/ffmpeg?-i+x')), undefined);
});

test('fork ffmpeg: a real encoder writing TS to stdout, ffprobe accepts the output', { timeout: 30000 }, async () => {
  const args = '-hide_banner+-re+-f+lavfi+-i+testsrc2=size=320x240:rate=25+-t+3+-c:v+libx264+-preset+ultrafast+-g+25+-f+mpegts+pipe:1';
  const { up, lines, data } = open(`fork:///usr/bin/ffmpeg?${args}`);
  await up.connected;
  const end = await up.ended;
  assert.deepEqual(end, {}, 'exit code 0 is a clean end of stream');
  const ts = data();
  assert.ok(ts.length > 10 * 188, `got ${ts.length} bytes`);
  assert.equal(ts.length % 188, 0);
  for (let i = 0; i < ts.length; i += 188) assert.equal(ts[i], 0x47, `sync byte at ${i}`);
  const dir = mkdtempSync(join(tmpdir(), 'rs-fork-'));
  try {
    const file = join(dir, 'out.ts');
    writeFileSync(file, ts);
    const { stdout: out } = await promisify(execFile)('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', file]);
    assert.match(out, /h264/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // ffmpeg's stream information goes to stderr: logged line by line.
  assert.ok(lines.some((l) => l.evt === 'upstream_stderr' && typeof l.line === 'string' && l.line.includes('Output #0, mpegts')));
  const exit = lines.find((l) => l.evt === 'upstream_child_exit');
  assert.equal(exit?.code, 0);
  assert.equal(up.stats.exitCode, 0);
});

test('fork: arguments with spaces and + reach the command unchanged (no shell), in both URL forms', async () => {
  const script = 'process.stdout.write(JSON.stringify(process.argv.slice(1)))';
  const a = open(nodeUrl(script, 'a b', 'c+d', '$HOME', "it's"));
  assert.deepEqual(await a.up.ended, {});
  assert.deepEqual(JSON.parse(a.data().toString()), ['a b', 'c+d', '$HOME', "it's"]);
  // The original form, command found on PATH.
  const b = open(`fork://node?-e+${encodeURIComponent(script)}+x%20y+p%2Bq`);
  assert.deepEqual(await b.up.ended, {});
  assert.deepEqual(JSON.parse(b.data().toString()), ['x y', 'p+q']);
});

test('fork: stderr lines are logged with the stream name, rate-limited with a summary', async () => {
  const { up, lines, data } = open(nodeUrl("for (let i = 0; i < 50; i++) console.error('line ' + i); process.stderr.write('no newline'); process.stdout.write('x')"));
  assert.deepEqual(await up.ended, {});
  assert.equal(data().toString(), 'x');
  const logged = lines.filter((l) => l.evt === 'upstream_stderr' && typeof l.line === 'string');
  assert.equal(logged.length, 20, 'at most 20 lines per second');
  assert.equal(logged[0]!.line, 'line 0');
  assert.equal(logged[0]!.stream, '/test.ts');
  const summary = lines.find((l) => l.evt === 'upstream_stderr' && typeof l.suppressed === 'number');
  assert.equal(summary?.suppressed, 31, '30 numbered lines and the unterminated one');
  assert.equal(up.stats.stderrLines, 51);
});

test('fork: a command that exits is an upstream loss with its exit code', async () => {
  const a = open(nodeUrl("process.stdout.write('x'); process.exitCode = 3"));
  await a.up.connected;
  const end = await a.up.ended;
  assert.equal(end.error?.code, 'UPSTREAM_CHILD_EXIT');
  assert.match(end.error.message, /exited with code 3/);
  assert.equal(a.lines.find((l) => l.evt === 'upstream_child_exit')?.code, 3);
  // Exiting before writing anything: the connection never came up.
  const b = open(nodeUrl('process.exit(0)'));
  await assert.rejects(b.up.connected, (e: RestreamerError) => e.code === 'UPSTREAM_CHILD_EXIT' && e.message.includes('before writing any data'));
  // Killed by a signal.
  const c = open(nodeUrl("process.stdout.write('x'); process.kill(process.pid, 'SIGKILL')"));
  const endC = await c.up.ended;
  assert.match(endC.error!.message, /killed by SIGKILL/);
});

test('fork: a command that does not exist is a clear error', async () => {
  for (const url of ['fork:///no/such/dir/encoder?-x', 'fork://no-such-command-rs?-x']) {
    const { up } = open(url);
    await assert.rejects(up.connected, (e: RestreamerError) => {
      assert.equal(e.code, 'UPSTREAM_SPAWN');
      assert.match(e.message, /command not found: (\/no\/such|no-such-command)/);
      return true;
    });
    assert.equal((await up.ended).error?.code, 'UPSTREAM_SPAWN');
  }
});

test('fork: close() ends a running child (SIGTERM), and one that ignores SIGTERM (SIGKILL): none left', async () => {
  const a = open(nodeUrl("setInterval(() => process.stdout.write('x'), 20)"));
  await a.up.connected;
  const pidA = a.up.stats.pid!;
  assert.ok(alive(pidA));
  a.up.close();
  await until(() => !alive(pidA), 3000, `pid ${pidA} gone`);
  assert.equal(a.up.stats.signal, 'SIGTERM');

  const b = open(nodeUrl("process.on('SIGTERM', () => {}); setInterval(() => process.stdout.write('x'), 20)"), 300);
  await b.up.connected;
  const pidB = b.up.stats.pid!;
  b.up.close();
  b.up.close();
  await until(() => !alive(pidB), 3000, `pid ${pidB} gone`);
  assert.equal(b.up.stats.signal, 'SIGKILL');
  assert.ok(b.lines.some((l) => String(l.msg).includes('ignored SIGTERM')));
});

test('fork: what the command started itself goes too, on close() and when the command exits', { timeout: 15000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-fork-group-'));
  const sh = (script: string) => `fork:///bin/sh?arg=-c&arg=${encodeURIComponent(script)}`;
  const grandchild = async (file: string): Promise<number> => {
    await until(() => existsSync(file) && readFileSync(file, 'utf8').trim() !== '', 3000, 'background pid written');
    return Number(readFileSync(file, 'utf8').trim());
  };
  try {
    // A shell with a background job that shares its stdout; close() ends both.
    const f1 = join(dir, 'a.pid');
    const a = open(sh(`sleep 300 & echo $! > ${f1}; while :; do printf x; sleep 0.05; done`));
    await a.up.connected;
    const bg1 = await grandchild(f1);
    assert.ok(alive(bg1));
    a.up.close();
    await until(() => !alive(bg1), 3000, `background job ${bg1} gone after close()`);
    // The command exits and leaves a background job holding stdout open: the upstream
    // still ends at once (not when the job would), with the exit code, and the job is gone.
    const f2 = join(dir, 'b.pid');
    const b = open(sh(`sleep 300 & echo $! > ${f2}; printf x; exit 3`));
    await b.up.connected;
    const bg2 = await grandchild(f2);
    const end = await Promise.race([b.up.ended, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 3000).unref())]);
    assert.notEqual(end, 'hung', 'the upstream ended though the background job held stdout');
    assert.match((end as { error?: Error }).error!.message, /exited with code 3/);
    await until(() => !alive(bg2), 3000, `background job ${bg2} gone`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fork: children are killed when the proxy process exits', { timeout: 15000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-fork-exit-'));
  try {
    const script = join(dir, 'exit.mts');
    writeFileSync(script, `
      import { forkKind } from ${JSON.stringify(join(ROOT, 'src/sources/kinds/fork.ts'))};
      import { testContext } from ${JSON.stringify(join(ROOT, 'test/helpers/datagram.ts'))};
      const { ctx } = testContext(${JSON.stringify(nodeUrl('process.stdout.write("x"); setInterval(() => {}, 1000)'))});
      const up = forkKind.open(ctx, () => {});
      await up.connected;
      process.stdout.write(String((up as any).stats.pid) + '\\n');
      process.exit(0);
    `);
    const p = spawn(NODE, ['--import', 'tsx', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer | string) => { out += String(d); });
    await new Promise((res) => p.on('exit', res));
    const pid = Number(out.trim());
    assert.ok(pid > 0, `child pid printed: ${JSON.stringify(out)}`);
    await until(() => !alive(pid) || readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] === 'Z', 3000, `pid ${pid} gone`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fork under the supervisor: a child that exits is restarted per the reconnect rule', { timeout: 15000 }, async () => {
  let connects = 0;
  let losses = 0;
  const sup = new Supervisor({
    stream: '/fork.ts',
    remotes: [nodeUrl("process.stdout.write('x')")],
    reconnectS: 0.2,
    timeoutS: 0,
    readTimeoutS: 0,
    inputBufferPackets: 100,
    options: { mru: 1500, rtpReorder: 8 },
    log: silentLogger(),
    onData: () => {},
    onConnected: () => { connects++; },
    onDisconnected: () => { losses++; },
  });
  sup.start();
  try {
    await until(() => connects >= 3, 10000, 'three connections');
    assert.ok(losses >= 2);
  } finally {
    sup.close();
  }
});
