#!/usr/bin/env node
import './no-inspector.js';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, ConfigError } from './config/load.js';
import { createLogger, EVT, type Logger } from './log/logger.js';
import cluster from 'node:cluster';
import { App } from './app.js';
import { Primary } from './cluster/primary.js';
import { runWorker } from './cluster/worker.js';
import { fdLimitWarning, openFileLimit } from './fdlimit.js';

/** Exit statuses: 0 ok, 1 runtime failure (e.g. port in use), 2 bad usage or bad config. */
const EXIT_RUNTIME = 1;
const EXIT_USAGE = 2;

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found');
    dir = up;
  }
  return dir;
}

const HELP = `Usage: restreamer [options] [CONFIG]

Live MPEG-TS proxy: pulls transport streams from upstreams and serves each to many
HTTP clients. CONFIG is a restreamer.json file (default: ./restreamer.json).

Options:
  --check     validate CONFIG, print a summary and exit (0 valid, 2 invalid)
  --strict    refuse CONFIG (exit 2) when it has any warning: unknown keys, skipped
              entries, ... (what the Go restreamer ignored is otherwise accepted)
  --demo      serve the built-in demo stream on http://localhost:8000/
  --version   print the version and exit
  --help      print this help and exit

Docs: README.md and docs/configuration.md. Example configs: examples/.`;

async function main(argv: string[]): Promise<number> {
  let check = false;
  let strict = false;
  let demo = false;
  const positional: string[] = [];
  for (const a of argv) {
    if (a === '--help' || a === '-h') { process.stdout.write(HELP + '\n'); return 0; }
    if (a === '--version' || a === '-V') {
      const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
      process.stdout.write(`restreamer ${pkg.version}\n`);
      return 0;
    }
    if (a === '--check') check = true;
    else if (a === '--strict') strict = true;
    else if (a === '--demo') demo = true;
    else if (a.startsWith('-')) { process.stderr.write(`restreamer: unknown option ${a}\n\n${HELP}\n`); return EXIT_USAGE; }
    else positional.push(a);
  }
  if (positional.length > 1) { process.stderr.write(`restreamer: only one CONFIG may be given\n`); return EXIT_USAGE; }

  let path: string;
  if (demo) path = join(packageRoot(), 'examples', 'demo', 'restreamer.json');
  else path = resolve(positional[0] ?? 'restreamer.json');
  if (!demo && positional.length === 0 && !existsSync(path)) {
    process.stderr.write(
      `restreamer: no configuration: ${path} does not exist.\n` +
      `Write one (start from examples/minimal/restreamer.json; every key is explained in\n` +
      `examples/documented/restreamer.json), pass its path as an argument, or run\n` +
      `"npm start" (restreamer --demo) to try the built-in demo stream.\n`);
    return EXIT_USAGE;
  }

  let cfg;
  const warnings: { path: string; message: string }[] = [];
  try {
    cfg = await loadConfig(path, { strict, onWarning: (w) => warnings.push(w) });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`restreamer: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  if (!cluster.isWorker) for (const w of warnings) process.stderr.write(`restreamer: warning: ${w.path ? w.path + ': ' : ''}${w.message}\n`);
  if (check) {
    const streams = cfg.resources.filter((r) => r.type === 'stream').length;
    process.stdout.write(`${path}: OK (${cfg.resources.length} resources, ${streams} streams, listen ${cfg.listen})\n`);
    return 0;
  }

  const logh = createLogger({ file: cfg.log || undefined });
  if (cluster.isWorker) return runWorker(cfg, logh);
  const log = logh.logger;
  // Auto: a single process until multi-process mode beats one in a benchmark on the host (docs/configuration.md).
  const workers = cfg.workers === 0 ? 1 : cfg.workers;
  log.info({ evt: EVT.start, pid: process.pid, node: process.version, config: path, workers }, 'restreamer starting');
  log.info({ evt: EVT.config, listen: cfg.listen, resources: cfg.resources.map((r) => ({ type: r.type, serve: r.serve, api: r.api })) }, 'configuration loaded');
  const fdWarning = fdLimitWarning(cfg.maxconnections, cfg.resources.reduce((n, r) => n + (r.type === 'stream' ? 1 : 0), 0));
  if (fdWarning) log.warn({ evt: EVT.warning, limit: openFileLimit() }, fdWarning);
  if (cfg.profile) log.warn({ evt: EVT.warning }, '"profile": the Go profiler does not exist here; it enables Node runtime metrics instead');

  // One process, or a primary (upstreams, admission, APIs) with worker processes (clients).
  let runner: App | Primary = workers > 1 ? new Primary(cfg, log, workers) : new App(cfg, log);
  let addr;
  try {
    addr = await runner.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(`restreamer: cannot listen on ${cfg.listen}: ${e.message}\n`);
    await runner.close();
    await logh.close();
    return EXIT_RUNTIME;
  }
  if (runner instanceof Primary) log.info({ evt: EVT.listen, address: addr.address, port: addr.port, workers }, 'listening');
  if (demo) {
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    process.stderr.write(`\nrestreamer demo: open http://localhost:${addr.port}/ in VLC, ffplay or mpv (bound to ${host}). Ctrl-C stops it.\n\n`);
  }

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    let draining = false;
    const stop = (signal: string) => {
      // SIGTERM with a drain time (rolling updates): keep the viewers, let the load
      // balancer move new ones elsewhere; a second signal stops at once.
      const drainS = runner.cfg.drain;
      if (signal === 'SIGTERM' && drainS > 0 && !draining && !stopping) {
        draining = true;
        log.info({ evt: EVT.shutdown, signal, drainS }, 'draining before shutdown');
        void runner.drain(drainS * 1000).then(() => stop('drained'));
        return;
      }
      if (stopping) return;
      stopping = true;
      log.info({ evt: EVT.shutdown, signal }, 'shutting down');
      // Exit 0 within two seconds even if something refuses to close.
      setTimeout(() => { void logh.close(50).then(() => resolveExit(0)); }, 1900).unref();
      void runner.close().then(() => logh.close()).then(() => resolveExit(0));
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    // SIGUSR1 is the original's log-rotation signal; SIGHUP does the same here.
    const reopen = (signal: string) => {
      logh.reopen();
      if (runner instanceof Primary) runner.reopenLogs();
      log.info({ evt: EVT.logReopen, signal }, 'log file reopened');
    };
    // SIGHUP also re-reads the configuration; one reload at a time, in order.
    let reloads = Promise.resolve();
    process.on('SIGHUP', () => {
      reopen('SIGHUP');
      reloads = reloads.then(async () => {
        if (stopping || draining) return;
        runner = await reloadConfig(runner, path, log, strict);
      });
    });
    process.on('SIGUSR1', () => reopen('SIGUSR1'));
  });
}

/**
 * SIGHUP: read the configuration again and apply it (App.reload). An invalid file, or a
 * change that cannot be applied while running, is refused with the reasons in the log and
 * the running configuration kept.
 */
async function reloadConfig(runner: App | Primary, path: string, log: Logger, strict: boolean): Promise<App | Primary> {
  const warnings: { path: string; message: string }[] = [];
  let next;
  try {
    next = await loadConfig(path, { strict, onWarning: (w) => warnings.push(w) });
  } catch (err) {
    const issues = err instanceof ConfigError ? err.issues : [{ path: '', message: (err as Error).message }];
    log.error({ evt: EVT.reload, ok: false, config: path, issues }, `reload refused: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}; the running configuration stays`);
    return runner;
  }
  for (const w of warnings) log.warn({ evt: EVT.warning, path: w.path }, w.message);
  if (next.log !== runner.cfg.log) log.warn({ evt: EVT.reload, log: next.log }, '"log" cannot change while running: restart to write the log elsewhere');
  try {
    const { app, plan } = runner.reload(next);
    const { refused: _none, ...changes } = plan;
    log.info({ evt: EVT.reload, ok: true, config: path, ...changes }, `configuration reloaded: ${plan.keep.length} stream(s) kept, ${plan.restart.length} restarted, ${plan.remove.length} removed, ${plan.add.length} added`);
    // A Primary stays the runner (it now runs the new App and told its workers).
    return runner instanceof Primary ? runner : app;
  } catch (err) {
    log.error({ evt: EVT.reload, ok: false, config: path }, `reload refused: ${(err as Error).message}; the running configuration stays`);
    return runner;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`restreamer: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(EXIT_RUNTIME);
  },
);
