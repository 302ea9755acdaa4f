// The package as a user gets it: `npm pack` (which builds first), installed globally into
// a temporary prefix from the tarball, and the installed command run from elsewhere.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, removeTempDir, tempDir } from '../helpers/proxy.js';

const dirs: string[] = [];
after(() => { for (const d of dirs) removeTempDir(d); });

/**
 * The environment without the outer `npm test`'s npm_* settings (prefix, lifecycle), and
 * without coverage collection (`npm run coverage`): it would only measure npm and tsc (the
 * installed copy is not src/) and slow the build's two tsc runs down.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'NODE_V8_COVERAGE') env[k] = v;
  return env;
}

function run(cmd: string, args: string[], cwd: string, timeoutMs = 150_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer | string) => { stdout += String(d); });
    p.stderr.on('data', (d: Buffer | string) => { stderr += String(d); });
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`${cmd} ${args.join(' ')} did not finish: ${stderr}`)); }, timeoutMs);
    p.on('close', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}

test('npm pack builds a complete package; installed from the tarball, `restreamer` runs anywhere', { timeout: 300_000 }, async () => {
  const dir = tempDir('rs-pack-');
  dirs.push(dir);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

  const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], ROOT);
  assert.equal(packed.code, 0, packed.stderr);
  const info = (JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[])[0]!;
  const files = new Set(info.files.map((f) => f.path));
  for (const f of ['bin/restreamer.js', 'dist/src/cli.js', 'dist/src/roles/single.js', 'README.md', 'restreamer.schema.json',
    'examples/minimal/restreamer.json', 'examples/documented/restreamer.json', 'examples/demo/restreamer.json',
    'examples/demo/demo.ts', 'examples/systemd/restreamer.service', 'package.json']) {
    assert.ok(files.has(f), `the package contains ${f}`);
  }
  // Assets served at run time (the status page, where present) ship too.
  for (const f of ['web/status/index.html', 'web/status/app.js']) {
    if (existsSync(join(ROOT, f))) assert.ok(files.has(f), `the package contains ${f}`);
  }
  for (const f of files) assert.doesNotMatch(f, /^(test|src|bench|node_modules)\//, `no ${f} in the package`);

  // Runtime dependencies come from npm's cache (`npm install` in the clone put them there).
  const prefix = join(dir, 'prefix');
  const installed = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, info.filename)], dir);
  assert.equal(installed.code, 0, installed.stderr);
  const bin = join(prefix, 'bin', 'restreamer');
  assert.ok(existsSync(bin), 'the restreamer command is installed');

  // Run from a folder that is not the clone.
  const version = await run(bin, ['--version'], dir, 30_000);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout.trim(), `restreamer ${pkg.version}`);
  const example = join(prefix, 'lib', 'node_modules', pkg.name, 'examples', 'minimal', 'restreamer.json');
  const check = await run(bin, ['--check', example], dir, 30_000);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /OK \(1 resources, 1 streams/);
  const demo = await run(bin, ['--check', join(prefix, 'lib', 'node_modules', pkg.name, 'examples', 'demo', 'restreamer.json')], dir, 30_000);
  assert.equal(demo.code, 0, demo.stderr);
});
