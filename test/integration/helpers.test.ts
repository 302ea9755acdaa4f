// The test helpers themselves, where a fresh machine or a loaded one found them wanting:
// fixtures made by parallel test files, and a proxy start that fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, TSX, startProxy, tempDir, removeTempDir } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';
import { probeCodecs } from '../helpers/upstream.js';
import { childPids } from '../helpers/procs.js';

/** PIDs of this process's children running the CLI. */
const cliChildren = (): number[] => childPids(process.pid, { nodeOnly: false, cmdline: 'src/cli.ts' });

test('two test files making the fixture at the same moment both get a whole one', { timeout: 120_000 }, async () => {
  const dir = tempDir('rs-fixtures-');
  try {
    const script = `import { fixtureTs } from ${JSON.stringify(join(ROOT, 'test', 'helpers', 'upstream.ts'))}; console.log(fixtureTs());`;
    const run = () => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', script], { cwd: ROOT, env: { ...process.env, RESTREAMER_FIXTURES: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer | string) => { out += String(d); });
      p.stderr.on('data', (d: Buffer | string) => { err += String(d); });
      p.on('close', (code) => resolve({ code, out: out.trim(), err }));
    });
    const [a, b] = await Promise.all([run(), run()]);
    assert.equal(a.code, 0, a.err);
    assert.equal(b.code, 0, b.err);
    assert.equal(a.out, b.out);
    assert.deepEqual(probeCodecs(a.out), ['aac', 'h264']);
    assert.deepEqual(readdirSync(dir), ['h264-aac-4s-gop2.mpegts'], 'no temporary file left');
  } finally {
    removeTempDir(dir);
  }
});

test('a proxy that does not start in time is killed and its folder removed; the error says why', { timeout: 60_000 }, async (t) => {
  // A temporary directory of this test's own: other test files make rs-test-* folders too.
  const own = tempDir('rs-own-tmp-');
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = own;
  t.after(() => { process.env.TMPDIR = saved; removeTempDir(own); });
  // It listens, but its upstream never connects: waiting for the stream fails.
  await assert.rejects(
    startProxy({ reconnect: 1, resources: [{ type: 'stream', serve: '/a.ts', remote: 'http://127.0.0.1:9/never.ts' }] }, { waitStreams: true, timeoutMs: 3000 }),
    /timed out waiting for a log line/,
  );
  assert.deepEqual(cliChildren(), [], 'the proxy it started is gone');
  // It exits at once (a port in use): the error comes with its stderr, without waiting for the bound.
  const blocker = await new Promise<net.Server>((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
  try {
    const port = (blocker.address() as net.AddressInfo).port;
    await assert.rejects(startProxy({ listen: `127.0.0.1:${port}`, resources: [{ type: 'api', api: 'health', serve: '/h' }] }), /proxy exited.*EADDRINUSE/s);
  } finally {
    blocker.close();
  }
  await until(() => cliChildren().length === 0, 5000, 'no CLI child left');
  assert.deepEqual(readdirSync(tmpdir()).filter((f) => f.startsWith('rs-test-')), [], 'no rs-test-* folder left behind');
});
