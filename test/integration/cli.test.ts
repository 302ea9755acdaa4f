// The CLI as an operator meets it: help, version, --check, bad configs, no config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { runCli, writeConfig, ROOT } from '../helpers/proxy.js';

const FIX = join(ROOT, 'test', 'fixtures', 'config');

test('--help and --version', async () => {
  const h = await runCli(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /Usage: restreamer/);
  const v = await runCli(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^restreamer \d+\.\d+\.\d+/);
  const bad = await runCli(['--frobnicate']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown option --frobnicate/);
});

test('--check accepts the shipped examples', async () => {
  for (const ex of ['minimal', 'documented', 'demo']) {
    const r = await runCli(['--check', join(ROOT, 'examples', ex, 'restreamer.json')]);
    assert.equal(r.code, 0, `${ex}: ${r.stderr}`);
    assert.match(r.stdout, /OK/);
  }
});

test('every bad config fixture exits 2 before listening, naming the JSON path', async () => {
  const expected: Record<string, RegExp> = {
    'bad-wrong-type.json': /^\s+\S+: /m,
    'bad-duplicate-serve.json': /resources\[1\]\.serve/,
    'bad-inputbuffer-huge.json': /inputbuffer: .*too large/,
    'bad-heartbeat-zero.json': /heartbeatinterval/,
    'bad-too-deep.json': /nested deeper/,
    'bad-listen.json': /listen/,
  };
  const files = readdirSync(FIX).filter((f) => f.startsWith('bad-') && f.endsWith('.json'));
  assert.ok(files.length >= 15);
  // Run them two at a time: each is a real process.
  for (let i = 0; i < files.length; i += 2) {
    await Promise.all(files.slice(i, i + 2).map(async (f) => {
      const r = await runCli([join(FIX, f)]);
      assert.equal(r.code, 2, `${f}: exit ${r.code}, stderr ${r.stderr}`);
      assert.match(r.stderr, /invalid configuration/, f);
      assert.doesNotMatch(r.stdout, /"evt":"listen"/, `${f} must not listen`);
      if (expected[f]) assert.match(r.stderr, expected[f]!, f);
    }));
  }
});

test('no config and no ./restreamer.json: exit 2 with directions, never a demo by accident', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-empty-'));
  const r = await runCli([], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no configuration/);
  assert.match(r.stderr, /examples\/minimal\/restreamer\.json/);
  assert.match(r.stderr, /npm start/);
});

test('a port already in use: exit 1 with the reason', async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const cfg = writeConfig({ listen: `127.0.0.1:${port}`, resources: [{ type: 'stream', serve: '/a.ts', remote: 'http://127.0.0.1:9/x.ts' }] });
    const r = await runCli([cfg]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot listen.*EADDRINUSE/);
  } finally {
    blocker.close();
  }
});
