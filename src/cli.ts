#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, ConfigError } from './config/load.js';
import { createLogger, EVT } from './log/logger.js';
import cluster from 'node:cluster';
import { App } from './app.js';
import { Primary } from './cluster/primary.js';
import { runWorker } from './cluster/worker.js';

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
  --demo      serve the built-in demo stream on http://localhost:8000/
  --version   print the version and exit
  --help      print this help and exit

Docs: README.md and docs/configuration.md. Example configs: examples/.`;

async function main(argv: string[]): Promise<number> {
  let check = false;
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
    cfg = await loadConfig(path, { onWarning: (w) => warnings.push(w) });
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
  if (cfg.profile) log.warn({ evt: EVT.warning }, '"profile": the Go profiler does not exist here; it enables Node runtime metrics instead');

  // One process, or a primary (upstreams, admission, APIs) with worker processes (clients).
  const runner = workers > 1 ? new Primary(cfg, log, workers) : new App(cfg, log);
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
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ evt: EVT.shutdown, signal }, 'shutting down');
      // Exit 0 within two seconds even if something refuses to close.
      setTimeout(() => { void logh.close(50).then(() => resolveExit(0)); }, 1900).unref();
      void runner.close().then(() => logh.close()).then(() => resolveExit(0));
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGHUP', () => {
      logh.reopen();
      if (runner instanceof Primary) runner.reopenLogs();
      log.info({ evt: EVT.logReopen }, 'log file reopened');
    });
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`restreamer: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(EXIT_RUNTIME);
  },
);
