// The Dockerfile. Where a container engine can build and run it, it is built and run
// (opt-in, see below); everywhere, its runtime stage is checked by running the very
// command lines it declares (ENTRYPOINT + CMD, HEALTHCHECK) outside a container, against
// the files its COPY lines put in place, laid out under a temporary root.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ROOT, StreamClient, servedViewer } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';
import { freePort } from '../helpers/upstream.js';
import { NODE_FLAGS } from '../../src/node-flags.js';

interface Instruction { op: string; args: string }

/** Dockerfile instructions (continuations joined, comments dropped), split into stages. */
function parseDockerfile(text: string): Instruction[][] {
  const joined = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n').replace(/\\\n/g, ' ');
  const stages: Instruction[][] = [];
  for (const line of joined.split('\n')) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') stages.push([]);
    (stages.at(-1) ?? (stages[0] = [])).push({ op, args: m[2]!.trim() });
  }
  return stages;
}

function execForm(args: string): string[] {
  const v = JSON.parse(args) as unknown;
  assert.ok(Array.isArray(v) && v.every((x) => typeof x === 'string'), `not an exec-form JSON array: ${args}`);
  return v;
}

const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(DOCKERFILE);
const runtime = stages.at(-1)!;
const one = (op: string) => {
  const all = runtime.filter((i) => i.op === op);
  assert.equal(all.length, 1, `runtime stage: one ${op}`);
  return all[0]!.args;
};
const entrypoint = execForm(one('ENTRYPOINT'));
const cmd = execForm(one('CMD'));
const healthcheck = (() => {
  const m = /\bCMD\s+(\[.*\])\s*$/.exec(one('HEALTHCHECK'));
  assert.ok(m, 'HEALTHCHECK ... CMD [exec form]');
  return execForm(m[1]!);
})();
const workdir = one('WORKDIR');
const env: Record<string, string> = {};
for (const i of runtime.filter((x) => x.op === 'ENV')) {
  for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)) env[m[1]!] = m[2]!;
}
const BASE = /^ARG NODE_IMAGE=(\S+)$/m.exec(DOCKERFILE)?.[1] ?? '';
const words = (v: string | undefined) => (v ?? '').split(/\s+/).filter(Boolean);
const BUILD_BASE = process.env.RESTREAMER_CONTAINER_BASE || BASE;
const ENGINE_ARGS = words(process.env.RESTREAMER_CONTAINER_ENGINE_ARGS);
const RUN_ARGS = words(process.env.RESTREAMER_CONTAINER_RUN_ARGS);

describe('Dockerfile: what it declares', () => {
  it('is multi-stage on the official Node 20 slim image, runs unprivileged, exposes 8000', () => {
    assert.ok(stages.length >= 2, 'a build stage and a runtime stage');
    assert.equal(BASE, 'node:20-bookworm-slim');
    const user = one('USER');
    assert.ok(user !== 'root' && user !== '0', `USER ${user}`);
    assert.equal(one('EXPOSE'), '8000');
    assert.equal(new URL(env.RESTREAMER_HEALTH_URL!).port, '8000', 'health check on the exposed port');
    // Nothing from the build stage's dev dependencies or sources but the compiled output.
    const copies = runtime.filter((i) => i.op === 'COPY').map((i) => i.args);
    assert.ok(copies.some((c) => /^--from=build \S+\/dist\/src /.test(c)), copies.join('\n'));
    assert.ok(!copies.some((c) => /^src\b/.test(c)), 'TypeScript sources in the runtime image');
  });

  it('starts node itself with the V8 flags of src/node-flags.ts and the documented config path', () => {
    assert.equal(entrypoint[0], 'node', 'node is PID 1 and gets the signals (no shell in between)');
    assert.deepEqual(entrypoint.slice(1, -1), [...NODE_FLAGS]);
    assert.match(entrypoint.at(-1)!, /\/dist\/src\/cli\.js$/);
    assert.deepEqual(cmd, ['/etc/restreamer/restreamer.json']);
  });

  it('keeps the build context to what the image needs (.dockerignore)', () => {
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    assert.equal(ignore[0], '*', 'an allow-list');
    const allowed = new Set(ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, '')));
    // Every path a COPY takes from the context is allowed, and nothing else.
    const fromContext = stages.flat().filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    assert.deepEqual([...new Set(fromContext)].sort(), [...allowed].sort());
  });
});

/**
 * The runtime stage's file system, laid out under `root`: each COPY of the runtime stage
 * placed where it says. What the build stage makes is made here the same way, offline:
 * `npm run build` is tsc into a temporary dist/, node_modules is the project's own.
 */
function layOut(root: string): void {
  const inImage = (p: string) => join(root, p.startsWith('/') ? p : join(workdir, p));
  const dist = join(root, 'build', 'dist');
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', dist], { stdio: 'inherit' });
  const built: Record<string, string> = {
    '/app/package.json': join(ROOT, 'package.json'),
    '/app/node_modules': join(ROOT, 'node_modules'),
    '/app/dist/src': join(dist, 'src'),
  };
  for (const c of runtime.filter((i) => i.op === 'COPY')) {
    const parts = c.args.split(/\s+/);
    const fromBuild = parts[0] === '--from=build';
    const [src, dest] = fromBuild ? [parts[1]!, parts[2]!] : [parts[0]!, parts[1]!];
    const source = fromBuild ? built[src] : join(ROOT, src);
    assert.ok(source, `COPY ${c.args}: unknown build output`);
    // Docker's rule: a destination ending in "/" is a directory to copy into.
    const target = dest.endsWith('/') ? join(inImage(dest), basename(src)) : inImage(dest);
    mkdirSync(dirname(target), { recursive: true });
    if (src.endsWith('node_modules')) symlinkSync(source, target); // 60 MB: link, not copy
    else cpSync(source, target, { recursive: true });
  }
  mkdirSync(join(root, 'etc', 'restreamer'), { recursive: true });
}

/** A container path as seen from outside: under `root` if the image has it. */
const outside = (root: string, arg: string) => (arg.startsWith('/opt/') || arg.startsWith('/etc/restreamer') ? join(root, arg) : arg);

function runHealthcheck(root: string, url: string): number | null {
  const [exe, ...args] = healthcheck;
  assert.equal(exe, 'node');
  const r = spawnSync(process.execPath, args.map((a) => outside(root, a)), {
    cwd: join(root, workdir), env: { ...process.env, ...env, RESTREAMER_HEALTH_URL: url }, encoding: 'utf8', timeout: 10000,
  });
  return r.status;
}

describe('Dockerfile: its entrypoint and health check, run outside a container', { timeout: 90000 }, () => {
  let root: string;
  let proc: ChildProcess | undefined;
  let port = 0;
  let out = '';
  const clients: StreamClient[] = [];

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'rs-image-'));
    layOut(root);
  });
  after(async () => {
    for (const c of clients) c.close();
    if (proc?.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await new Promise((r) => proc!.once('exit', r));
    }
    rmSync(root, { recursive: true, force: true });
  });

  it('runs ENTRYPOINT + CMD against a config at the documented path', async () => {
    port = await freePort();
    // What a user mounts: listen on all interfaces (here loopback), health at /health, and
    // the demo clip as a stream so there is someone to count.
    writeFileSync(join(root, 'etc', 'restreamer', 'restreamer.json'), JSON.stringify({
      listen: `127.0.0.1:${port}`,
      fullconnections: 1,
      resources: [
        { type: 'stream', serve: '/live.ts', remote: `file://${join(ROOT, 'examples', 'demo', 'demo.ts')}?loop&realtime` },
        { type: 'api', api: 'health', serve: '/health' },
      ],
    }));
    const [exe, ...args] = [...entrypoint, ...cmd];
    assert.equal(exe, 'node');
    proc = spawn(process.execPath, args.map((a) => outside(root, a)), {
      cwd: join(root, workdir), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    await until(() => out.includes('"evt":"listen"') || proc!.exitCode !== null, 20000, 'the entrypoint to listen');
    assert.match(out, /"evt":"listen"/, out);
    // --version through the image's own launcher finds package.json where the image has it.
    const v = spawnSync(process.execPath, [...NODE_FLAGS, join(root, workdir, 'bin', 'restreamer.js'), '--version'], { encoding: 'utf8', timeout: 15000 });
    assert.match(v.stdout, /^restreamer \d+\.\d+\.\d+/);
  });

  it('HEALTHCHECK: 0 while serving, also when the instance is full', async () => {
    const url = `http://127.0.0.1:${port}/health`;
    assert.equal(runHealthcheck(root, url), 0);
    // One viewer makes it full (fullconnections 1); retried until the clip's first packet is in.
    await servedViewer(`http://127.0.0.1:${port}/live.ts`, (x) => clients.push(x));
    const h = (await (await fetch(url)).json()) as { status: string };
    assert.equal(h.status, 'full');
    assert.equal(runHealthcheck(root, url), 0, 'a full instance is healthy: it must not be restarted');
    assert.notEqual(runHealthcheck(root, `http://127.0.0.1:${port}/no-such-api`), 0, 'a 404 is unhealthy');
  });

  it('SIGTERM (docker stop) exits 0; then HEALTHCHECK fails', async () => {
    const exited = new Promise<number | null>((r) => proc!.once('exit', (code) => r(code)));
    proc!.kill('SIGTERM');
    const t = setTimeout(() => proc!.kill('SIGKILL'), 10000);
    assert.equal(await exited, 0);
    clearTimeout(t);
    assert.notEqual(runHealthcheck(root, `http://127.0.0.1:${port}/health`), 0);
  });
});

/**
 * Why the image itself is not built here, or null when it can be. Building needs an
 * engine that runs containers, the base image already in its local storage (tests send
 * nothing beyond loopback, so they never pull), and RESTREAMER_CONTAINER_BUILD=1, since
 * the build stage's `npm ci` downloads from the npm registry. Optional:
 * RESTREAMER_CONTAINER_BASE, another base image (the NODE_IMAGE build argument);
 * RESTREAMER_CONTAINER_ENGINE_ARGS, arguments before the engine's subcommand (e.g.
 * `--runtime runc`); RESTREAMER_CONTAINER_RUN_ARGS, extra arguments to build and run
 * (e.g. `--ulimit nofile=1024:1024` where the runtime may not raise limits).
 *
 * On a machine that reaches no container registry, a stand-in for node:20-bookworm-slim
 * can be imported from local files (how this was run on the development machine, podman
 * 4.3.1): a root file system with the host's Node 20 at /usr/local/bin/node and its shared
 * libraries, npm under /usr/local/lib/node_modules, busybox for /bin/sh, /etc/passwd with
 * node:1000, and /root/.npm filled by `npm install --cache DIR` of this package; then
 * `podman import --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change 'ENV
 * npm_config_offline=true' rootfs.tar localhost/node-standin:20` and
 * RESTREAMER_CONTAINER_BASE=localhost/node-standin:20.
 */
function whyNoBuild(): { engine?: string; reason: string | null } {
  const tried: string[] = [];
  for (const engine of ['podman', 'docker']) {
    const info = spawnSync(engine, ['info'], { encoding: 'utf8', timeout: 30000 });
    if (info.error) { tried.push(`${engine}: ${(info.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : info.error.message}`); continue; }
    if (info.status !== 0) { tried.push(`${engine} info failed: ${(info.stderr || info.stdout).trim().split('\n').at(-1)}`); continue; }
    const img = spawnSync(engine, [...ENGINE_ARGS, 'image', 'inspect', BUILD_BASE], { stdio: 'ignore' });
    if (img.status !== 0) {
      return { engine, reason: `${engine} is available, but the base image ${BUILD_BASE} is not in its local storage and tests never pull from a registry (only loopback traffic); run "${engine} pull ${BUILD_BASE}" and set RESTREAMER_CONTAINER_BUILD=1 to build and run the image` };
    }
    if (process.env.RESTREAMER_CONTAINER_BUILD !== '1') {
      return { engine, reason: `${engine} and ${BUILD_BASE} are available; set RESTREAMER_CONTAINER_BUILD=1 to build the image (its build stage downloads the npm dependencies)` };
    }
    return { engine, reason: null };
  }
  return { reason: `no container engine can run here (${tried.join('; ')}); the entrypoint and health check were run outside a container instead` };
}

const build = whyNoBuild();

describe('Dockerfile: built and run by a container engine', { skip: build.reason ?? false, timeout: 600000 }, () => {
  const engine = build.engine!;
  const tag = `localhost/restreamer-test:${process.pid}`;
  const name = `restreamer-test-${process.pid}`;
  let dir: string;
  const sh = (args: string[], timeout = 60000) => spawnSync(engine, [...ENGINE_ARGS, ...args], { encoding: 'utf8', timeout });

  before(() => { dir = mkdtempSync(join(tmpdir(), 'rs-container-')); });
  after(() => {
    sh(['rm', '-f', name]);
    sh(['rmi', '-f', tag]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds, becomes healthy with a mounted config, and stops cleanly on SIGTERM', async () => {
    // podman keeps HEALTHCHECK only in the docker image format.
    const format = engine === 'podman' ? ['--format', 'docker'] : [];
    const b = sh(['build', ...format, ...RUN_ARGS, '--pull=never', '--build-arg', `NODE_IMAGE=${BUILD_BASE}`, '-t', tag, ROOT], 540000);
    assert.equal(b.status, 0, b.stderr);
    const port = await freePort();
    writeFileSync(join(dir, 'restreamer.json'), JSON.stringify({
      listen: ':8000',
      resources: [{ type: 'stream', serve: '/live.ts', remote: 'udp://0.0.0.0:5000' }, { type: 'api', api: 'health', serve: '/health' }],
    }));
    const r = sh(['run', '-d', ...RUN_ARGS, '--name', name, '-p', `127.0.0.1:${port}:8000`, '--health-interval', '1s',
      '-v', `${join(dir, 'restreamer.json')}:/etc/restreamer/restreamer.json:ro`, tag]);
    assert.equal(r.status, 0, r.stderr);
    await until(() => {
      if (engine === 'podman') sh(['healthcheck', 'run', name]);
      return sh(['inspect', '--format', '{{.State.Health.Status}}', name]).stdout.trim() === 'healthy';
    }, 60000, 'the container to be healthy');
    const h = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(h.status, 200);
    assert.equal(sh(['exec', name, 'node', '-p', 'process.getuid()']).stdout.trim(), '1000', 'runs as the node user');
    const pid1 = sh(['exec', name, 'node', '-p', "require('fs').readFileSync('/proc/1/cmdline', 'utf8').split('\\0').join(' ')"]).stdout;
    assert.match(pid1, /^node --max-semi-space-size=4 \S+cli\.js \/etc\/restreamer\/restreamer\.json/, 'node is PID 1');
    const s = sh(['stop', '-t', '10', name], 30000);
    assert.equal(s.status, 0, s.stderr);
    assert.equal(sh(['inspect', '--format', '{{.State.ExitCode}}', name]).stdout.trim(), '0', 'exit status after SIGTERM');
    assert.match(sh(['logs', name]).stdout, /"evt":"shutdown","signal":"SIGTERM"/, 'SIGTERM reached the process');
  });
});
