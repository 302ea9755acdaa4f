// src/cli.ts as a unit: nothing may import it (it runs when loaded), so it is run as a
// child, for what it decides before anything listens: help, version, bad usage, --check,
// bad configs, no config. What needs it listening is in test/integration/cli.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CATALOGUE } from '../../src/errors.js';
import { runCli, tempDir, removeTempDir, writeConfig, ROOT } from '../helpers/proxy.js';

const FIX = join(ROOT, 'test', 'fixtures', 'config');

test('--help and --version print to stdout and exit 0; an unknown option exits 2 with the help', async () => {
  const [h, v, bad] = await Promise.all([runCli(['--help']), runCli(['--version']), runCli(['--frobnicate'])]);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /^Usage: restreamer/);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^restreamer \d+\.\d+\.\d+/);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^restreamer: CLI_USAGE: unknown option --frobnicate\n\nUsage: restreamer/);
  assert.equal(bad.stdout, '');
});

test('--check accepts the shipped examples: one summary line on stdout, exit 0', async () => {
  for (const ex of ['minimal', 'documented', 'demo']) {
    const path = join(ROOT, 'examples', ex, 'restreamer.json');
    const r = await runCli(['--check', path]);
    assert.equal(r.code, 0, `${ex}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^${path}: OK \\(\\d+ resources, \\d+ streams, listen \\S+\\)\\n$`));
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
      assert.match(r.stderr, /^restreamer: CONFIG_INVALID: invalid configuration /, f);
      assert.doesNotMatch(r.stdout, /"evt":"listen"/, `${f} must not listen`);
      if (expected[f]) assert.match(r.stderr, expected[f], f);
    }));
  }
});

test('no config and no ./restreamer.json: exit 2 with directions, never a demo by accident', async () => {
  const dir = tempDir('rs-empty-');
  try {
    const r = await runCli([], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^restreamer: CONFIG_UNREADABLE: no configuration: /);
    assert.match(r.stderr, /examples\/minimal\/restreamer\.json/);
    assert.match(r.stderr, /npm start/);
  } finally {
    removeTempDir(dir);
  }
});

test('every failure before listening is led by its catalogue code (docs/errors.md), on stderr', async () => {
  const dir = tempDir();
  try {
    const minimal = join(ROOT, 'examples', 'minimal', 'restreamer.json');
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const logUnderFile = writeConfig({ log: join(file, 'x.log'), resources: [{ type: 'stream', serve: '/a.ts', remote: 'http://127.0.0.1:9/x.ts' }] }, tempDir());
    const cases: [string[], string][] = [
      [['--frobnicate'], 'CLI_USAGE'],
      [['--listen'], 'CLI_USAGE'],
      [['a.json', 'b.json'], 'CLI_USAGE'],
      [['--log-format', 'xml', minimal], 'CLI_USAGE'],
      [['--listen', 'nonsense', minimal], 'CONFIG_INVALID'],
      [[join(dir, 'missing.json')], 'CONFIG_UNREADABLE'],
      [[dir], 'CONFIG_UNREADABLE'],
      [[join(ROOT, 'test', 'fixtures', 'config', 'bad-json-missing-comma.json')], 'CONFIG_INVALID'],
      [['--strict', join(ROOT, 'test', 'fixtures', 'config', 'warn-unknown-key.json')], 'CONFIG_INVALID'],
      [['--check', logUnderFile], 'CONFIG_INVALID'],
    ];
    for (let i = 0; i < cases.length; i += 2) {
      await Promise.all(cases.slice(i, i + 2).map(async ([args, code]) => {
        const r = await runCli(args);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.ok(code in CATALOGUE);
        // Warnings (the --strict case refuses them) come before the failure.
        const failure = r.stderr.split('\n').filter((l) => !l.startsWith('restreamer: warning: ')).join('\n');
        assert.match(failure, new RegExp(`^restreamer: ${code}: \\S`), args.join(' '));
        assert.equal(r.stdout, '');
      }));
    }
  } finally {
    removeTempDir(dir);
  }
});
