#!/usr/bin/env node
import './no-inspector.js';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from './config/schema.js';
import { checkLogFile, createLogger, EVT, type LogFormat, type LogHandle, type Logger } from './log/logger.js';
import { HELP, parseCommandLine, type RunOptions } from './args.js';
import { RestreamerError, errnoOf, errorText, isRestreamerError, type ErrorCode } from './errors.js';
import cluster from 'node:cluster';
import { ENV_LOG_FILE, ENV_LOG_FORMAT } from './cluster/protocol.js';
import type { Runner } from './roles/shared.js';
import { preloadApis } from './roles/apis.js';
import { fdLimitWarning, openFileLimit } from './fdlimit.js';
import { expiryWarning, readTlsPair } from './http/tls.js';

// A process loads only what its role and configuration use (issue 24: memory): the roles
// and the configuration loader (with zod) are imported once it is known which are needed
// (a worker gets a validated configuration from the primary and never loads zod), and the
// optional APIs' modules by preloadApis().

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

/**
 * Print a failure of the command line, the configuration or the start, led by its code
 * (docs/errors.md: every failure shows one); returns the exit status given.
 */
function fail(err: RestreamerError, status: number, usage = false): number {
  process.stderr.write(`restreamer: ${err.code}: ${err.message}\n${usage ? `\n${HELP}\n` : ''}`);
  return status;
}

async function main(argv: string[]): Promise<number> {
  const cmd = parseCommandLine(argv);
  switch (cmd.kind) {
    case 'help': process.stdout.write(HELP + '\n'); return 0;
    case 'version': {
      const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
      process.stdout.write(`restreamer ${pkg.version}\n`);
      return 0;
    }
    case 'error': return fail(cmd.error, EXIT_USAGE, cmd.usage);
    case 'run': break;
  }
  const opts = cmd.options;
  // A worker never reads the configuration file: the primary sends it the one it runs
  // (the file may have changed, or become invalid, since), and its log settings here.
  if (cluster.isWorker) return workerMain(opts.logFormat);
  // Loaded only here: a worker never reads a configuration file, nor loads the schema.
  const { loadConfig, ConfigError } = await import('./config/load.js');

  const path = opts.demo ? join(packageRoot(), 'examples', 'demo', 'restreamer.json') : resolve(opts.config ?? 'restreamer.json');
  if (!opts.demo && opts.config === undefined && !existsSync(path)) {
    return fail(new RestreamerError('CONFIG_UNREADABLE',
      `no configuration: ${path} does not exist.\n` +
      `Write one (start from examples/minimal/restreamer.json; every key is explained in\n` +
      `examples/documented/restreamer.json), pass its path as an argument, or run\n` +
      `"npm start" (restreamer --demo) to try the built-in demo stream.`), EXIT_USAGE);
  }

  let cfg: Config;
  try {
    cfg = await loadConfig(path, { strict: opts.strict, onWarning: (w) => process.stderr.write(`restreamer: warning: ${w.path ? w.path + ': ' : ''}${w.message}\n`) });
  } catch (err) {
    if (err instanceof ConfigError) return fail(err, EXIT_USAGE);
    throw err;
  }
  if (opts.listen !== undefined) cfg.listen = opts.listen;
  const badPair = checkTlsPair(cfg, opts.check);
  if (badPair !== undefined) return badPair;
  return opts.check ? checkOnly(cfg, path) : run(cfg, path, opts);
}

/**
 * The HTTPS certificate and key, read before anything starts: a broken pair is a
 * configuration that cannot work (exit 2, its status returned); --check also warns of
 * an expiry within 14 days (a run logs that warning once it listens).
 */
function checkTlsPair(cfg: Config, check: boolean): number | undefined {
  if (!cfg.tls) return undefined;
  try {
    const warning = expiryWarning(readTlsPair(cfg.tls), cfg.tls);
    if (check && warning) process.stderr.write(`restreamer: warning: tls.cert: ${warning}\n`);
  } catch (err) {
    if (isRestreamerError(err)) return fail(err, EXIT_USAGE);
    throw err;
  }
  return undefined;
}

/** --check: the configuration loaded; also the log file it names; a summary line. */
function checkOnly(cfg: Config, path: string): number {
  // The log file is opened at start: a path that cannot work fails the check, without
  // creating anything.
  const why = cfg.log ? checkLogFile(cfg.log) : undefined;
  if (why) return fail(new RestreamerError('CONFIG_INVALID', `invalid configuration ${path}:\n  log: cannot open the log file ${cfg.log}: ${why}`), EXIT_USAGE);
  const streams = cfg.resources.filter((r) => r.type === 'stream').length;
  const https = cfg.tls ? `, https ${cfg.tls.listen}${cfg.tls.only ? ' only' : ''}` : '';
  process.stdout.write(`${path}: OK (${cfg.resources.length} resources, ${streams} streams, listen ${cfg.listen}${https})\n`);
  return 0;
}

/** Start, then serve until a signal stops it. */
async function run(cfg: Config, path: string, opts: RunOptions): Promise<number> {
  // Every start-up failure from here on is one line naming what failed and why, exit 1.
  let logh: LogHandle;
  try {
    logh = createLogger({ file: cfg.log || undefined, format: opts.logFormat ?? cfg.logformat });
  } catch (err) {
    return fail(startFailure(err, cfg.listen, opts.demo), EXIT_RUNTIME);
  }
  const log = logh.logger;
  // Auto: a single process until multi-process mode beats one in a benchmark on the host (docs/configuration.md).
  const workers = cfg.workers === 0 ? 1 : cfg.workers;
  log.info({ evt: EVT.start, pid: process.pid, node: process.version, config: path, workers }, 'restreamer starting');
  log.info({ evt: EVT.config, listen: cfg.listen, resources: cfg.resources.map((r) => ({ type: r.type, serve: r.serve, api: r.api })) }, 'configuration loaded');
  const fdWarning = fdLimitWarning(cfg.maxconnections, cfg.resources.reduce((n, r) => n + (r.type === 'stream' ? 1 : 0), 0));
  if (fdWarning) log.warn({ evt: EVT.warning, limit: openFileLimit() }, fdWarning);
  if (cfg.profile) log.warn({ evt: EVT.warning }, '"profile": the Go profiler does not exist here; it enables Node runtime metrics instead');

  // One process, or a primary (upstreams, admission, APIs) with worker processes (clients).
  let runner: Runner;
  try {
    await preloadApis(cfg);
    runner = workers > 1 ? new (await import('./roles/primary.js')).PrimaryRoot(cfg, log, workers) : new (await import('./roles/single.js')).SingleApp(cfg, log);
  } catch (err) {
    fail(startFailure(err, cfg.listen, opts.demo), EXIT_RUNTIME);
    await logh.close();
    return EXIT_RUNTIME;
  }
  let addr;
  try {
    addr = await runner.start();
  } catch (err) {
    fail(startFailure(err, cfg.listen, opts.demo), EXIT_RUNTIME);
    // Set now: should the process end while closing (workers gone, nothing left to wait
    // on), its status is still 1 (measured under load: 13, Node's "unsettled entry module").
    process.exitCode = EXIT_RUNTIME;
    await runner.close();
    await logh.close();
    return EXIT_RUNTIME;
  }
  if (opts.demo) {
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    process.stderr.write(`\nrestreamer demo: open http://localhost:${addr.port}/ in VLC, ffplay or mpv (bound to ${host}). Ctrl-C stops it.\n\n`);
  }
  return serveUntilStopped(runner, logh, path, opts);
}

/**
 * The running proxy's signals: SIGINT/SIGTERM stop (SIGTERM drains first when `drain` is
 * set), SIGHUP reopens the log and reloads the configuration, SIGUSR1 reopens the log.
 * Resolves with the exit status once stopped.
 */
function serveUntilStopped(first: Runner, logh: LogHandle, path: string, opts: RunOptions): Promise<number> {
  const log = logh.logger;
  let runner = first;
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
      runner.reopenLogs();
      log.info({ evt: EVT.logReopen, signal }, 'log file reopened');
    };
    // SIGHUP also re-reads the configuration; one reload at a time, in order.
    let reloads = Promise.resolve();
    process.on('SIGHUP', () => {
      reopen('SIGHUP');
      reloads = reloads.then(async () => {
        if (stopping || draining) return;
        runner = await reloadConfig(runner, path, log, opts.strict, opts.listen);
      });
    });
    process.on('SIGUSR1', () => reopen('SIGUSR1'));
  });
}

/** A worker process: the log as the primary says, then the worker's life (roles/worker.ts). */
async function workerMain(logFormat: LogFormat | undefined): Promise<number> {
  const file = process.env[ENV_LOG_FILE] || undefined;
  const format = logFormat ?? ((process.env[ENV_LOG_FORMAT] || undefined) as LogFormat | undefined);
  let logh: LogHandle;
  try {
    logh = createLogger({ file, format });
  } catch (err) {
    return fail(startFailure(err, '', false), EXIT_RUNTIME);
  }
  const { runWorkerProcess } = await import('./roles/worker.js');
  return runWorkerProcess(logh);
}

/**
 * SIGHUP: read the configuration again and apply it (Runner.reload). An invalid file, or a
 * change that cannot be applied while running, is refused with the reasons in the log and
 * the running configuration kept.
 */
async function reloadConfig(runner: Runner, path: string, log: Logger, strict: boolean, listen: string | undefined): Promise<Runner> {
  const { loadConfig, ConfigError } = await import('./config/load.js');
  const warnings: { path: string; message: string }[] = [];
  let next;
  try {
    next = await loadConfig(path, { strict, onWarning: (w) => warnings.push(w) });
  } catch (err) {
    const issues = err instanceof ConfigError ? err.issues : [{ path: '', message: errorText(err) }];
    log.error({ evt: EVT.reload, ok: false, code: reloadCode(err), config: path, issues }, `reload refused: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}; the running configuration stays`);
    return runner;
  }
  for (const w of warnings) log.warn({ evt: EVT.warning, path: w.path }, w.message);
  // --listen overrides the file's address for the whole run.
  if (listen !== undefined) next.listen = listen;
  if (next.log !== runner.cfg.log) log.warn({ evt: EVT.reload, log: next.log }, '"log" cannot change while running: restart to write the log elsewhere');
  try {
    await preloadApis(next);
    const { runner: applied, plan } = runner.reload(next);
    const { refused: _none, ...changes } = plan;
    log.info({ evt: EVT.reload, ok: true, config: path, ...changes }, `configuration reloaded: ${plan.keep.length} stream(s) kept, ${plan.restart.length} restarted, ${plan.remove.length} removed, ${plan.add.length} added`);
    // A primary stays the runner (it now runs the new configuration and told its workers).
    return applied;
  } catch (err) {
    log.error({ evt: EVT.reload, ok: false, code: reloadCode(err), config: path }, `reload refused: ${errorText(err)}; the running configuration stays`);
    return runner;
  }
}

/** The code of a refused reload: the failure's own, or RELOAD_REFUSED (a change that needs a restart, ...). */
function reloadCode(err: unknown): ErrorCode {
  return isRestreamerError(err) ? err.code : 'RELOAD_REFUSED';
}

/** What the listen errors mean to a person, by code. */
const LISTEN_REASONS: Record<string, string> = {
  EADDRINUSE: 'address already in use (EADDRINUSE): another program listens there',
  EACCES: 'permission denied (EACCES): ports below 1024 need root or CAP_NET_BIND_SERVICE',
  EADDRNOTAVAIL: 'no such local address (EADDRNOTAVAIL): the host is not an address of this machine',
  ENOTFOUND: 'unknown host name (ENOTFOUND)',
  EAI_AGAIN: 'host name lookup failed (EAI_AGAIN)',
};

/** One line saying what failed at start and why. */
function startFailure(err: unknown, listen: string, demo: boolean): RestreamerError {
  // A failure from the catalogue names what failed itself (log file, internal socket, worker start, ...).
  if (isRestreamerError(err)) return err;
  const e = errnoOf(err);
  const message = errorText(err);
  // Listen errors come as system errors here, or as a worker's message in multi-process mode.
  const code = e.code ?? /\b(EADDRINUSE|EACCES|EADDRNOTAVAIL|ENOTFOUND|EAI_AGAIN)\b/.exec(message)?.[1];
  const isListen = e.syscall === 'listen' || e.syscall === 'bind' || e.syscall === 'getaddrinfo' || /^(listen|bind) |getaddrinfo/.test(message);
  if (isListen && code) {
    const hint = code !== 'EADDRINUSE' ? ''
      : demo ? '; pick another address with --listen, e.g. "restreamer --demo --listen :8080" (or "npm start -- --listen :8080")'
        : '; stop that program, or change "listen" in the configuration (or pass --listen :PORT)';
    return new RestreamerError('LISTEN_FAILED', `cannot listen on ${listen}: ${LISTEN_REASONS[code] ?? message}${hint}`, { cause: err });
  }
  if (isListen) return new RestreamerError('LISTEN_FAILED', `cannot listen on ${listen}: ${message}`, { cause: err });
  return new RestreamerError('START_FAILED', `cannot start: ${message}`, { cause: err });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`restreamer: fatal: ${errnoOf(err).stack ?? String(err)}\n`);
    process.exit(EXIT_RUNTIME);
  },
);
