import { accessSync, closeSync, constants as fsc, mkdirSync, openSync, statSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino';
import { RestreamerError } from '../errors.js';

export type { Logger };

/**
 * Event names used in log lines (`evt` key). One list, so operators can grep and
 * alert on stable names.
 */
export const EVT = {
  start: 'start',
  config: 'config',
  listen: 'listen',
  shutdown: 'shutdown',
  upstreamConnect: 'upstream_connect',
  upstreamDisconnect: 'upstream_disconnect',
  upstreamError: 'upstream_error',
  upstreamRetry: 'upstream_retry',
  upstreamOffline: 'upstream_offline',
  upstreamStderr: 'upstream_stderr',
  upstreamInfo: 'upstream_info',
  multicastJoin: 'multicast_join',
  multicastLeave: 'multicast_leave',
  upstreamFaults: 'upstream_faults',
  upstreamChildExit: 'upstream_child_exit',
  alignerDiscard: 'aligner_discard',
  alarmRaised: 'alarm_raised',
  alarmCleared: 'alarm_cleared',
  clientConnect: 'client_connect',
  clientDisconnect: 'client_disconnect',
  clientRejected: 'client_rejected',
  clientSlow: 'client_slow',
  access: 'access',
  notify: 'notify',
  notifyError: 'notify_error',
  staticFetch: 'static_fetch',
  staticError: 'static_error',
  warning: 'warning',
  logReopen: 'log_reopen',
  reload: 'reload',
  tlsReload: 'tls_reload',
  fdExhausted: 'fd_exhausted',
  httpSocketCap: 'http_socket_cap',
  httpError: 'http_error',
  statusAction: 'status_action',
  authBlocked: 'auth_blocked',
} as const;

/**
 * Log line formats. `auto`: readable text when the log goes to a terminal, JSON lines
 * otherwise. `json`: pino's JSON lines (the default everywhere but a terminal).
 * `pretty`: one readable line per event (pino-pretty). `restreamer`: the Go original's
 * lines (keys `event`, `module`, `message`, `remote` as "ip:port", `time` in RFC 3339;
 * in a log file each line prefixed "[<time>] "), for pipelines that parse them.
 */
export const LOG_FORMATS = ['auto', 'json', 'pretty', 'restreamer'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LogHandle {
  logger: Logger;
  /** The format in use (`auto` resolved). */
  format: Exclude<LogFormat, 'auto'>;
  /** Reopen the log file (SIGHUP / logrotate). No-op when logging to stdout. */
  reopen(): void;
  /**
   * Write out every line logged so far (waiting for a write in flight, at most `waitMs`),
   * then stop. Idempotent. Await it before process.exit(): a write still queued in Node's
   * thread pool is lost when the process exits.
   */
  close(waitMs?: number): Promise<void>;
}

export interface CreateLoggerOptions {
  /** Log file ("" or absent: stdout). */
  file?: string;
  level?: string;
  /** Tests: write JSON lines to this stream instead. */
  stream?: DestinationStream;
  format?: LogFormat;
  /** Whether stdout is a terminal (default: process.stdout.isTTY). */
  tty?: boolean;
}

/** Log lines are written in batches of at least this many bytes... */
const LOG_WRITE_BYTES = 2048;
/** ...or when they have waited this long... */
const LOG_FLUSH_MS = 100;
/**
 * ...and of whole lines, at most PIPE_BUF bytes per write: workers share the primary's
 * stdout, and writes up to PIPE_BUF to a pipe are never interleaved with another's.
 */
const LOG_MAX_WRITE = 4096;

/** `auto` resolved: readable text only for a terminal, never for a file or a pipe. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-boolean-literal-compare -- isTTY is undefined, not false, when stdout is no terminal
export function resolveLogFormat(format: LogFormat | undefined, file: string | undefined, tty = process.stdout.isTTY === true): Exclude<LogFormat, 'auto'> {
  if (format && format !== 'auto') return format;
  return !file && tty ? 'pretty' : 'json';
}

/**
 * Why `file` cannot be opened for appending, or undefined when it can (as far as can be
 * told without creating anything: for `--check`). The file or its nearest existing folder
 * must be writable; a path under a regular file, or a folder named as the log, cannot work.
 */
export function checkLogFile(file: string): string | undefined {
  const path = resolve(file);
  const st = statOrCode(path);
  if (typeof st !== 'string') {
    if (st.isDirectory()) return `${path} is a directory`;
    return accessReason(path, fsc.W_OK);
  }
  if (st !== 'ENOENT' && st !== 'ENOTDIR') return `${path}: ${st}`;
  // Find the nearest part of the path that exists: it must be a folder we may write in.
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const d = statOrCode(dir);
    if (typeof d === 'string') {
      if (d === 'ENOENT' || d === 'ENOTDIR') { if (dir === dirname(dir)) return `${dir}: ${d}`; continue; }
      return `${dir}: ${d}`;
    }
    if (!d.isDirectory()) return `${dir} is not a directory`;
    return accessReason(dir, fsc.W_OK | fsc.X_OK);
  }
}

function statOrCode(p: string): Stats | string {
  try { return statSync(p); } catch (e) { return (e as NodeJS.ErrnoException).code ?? String(e); }
}

function accessReason(p: string, mode: number): string | undefined {
  try { accessSync(p, mode); return undefined; } catch (e) { return (e as Error).message; }
}

/**
 * Open (create) the log file for appending once, synchronously, so a log file that cannot
 * be written is one clear start-up error instead of an asynchronous crash in pino.
 */
function openLogFile(file: string): void {
  try {
    makeDirs(dirname(resolve(file)));
    closeSync(openSync(file, 'a'));
  } catch (err) {
    const why = checkLogFile(file) ?? (err as Error).message;
    throw new RestreamerError('LOG_UNWRITABLE', { file, why }, { cause: err });
  }
}

/**
 * mkdir -p, one level at a time: Node's recursive mkdirSync never returns where a parent
 * exists but refuses the child with ENOENT (measured: a log path under /proc hung it).
 */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; statOrCode(d) === 'ENOENT' && d !== dirname(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) {
    try { mkdirSync(d); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; }
  }
}

export function createLogger(opts: CreateLoggerOptions = {}): LogHandle {
  const level = opts.level ?? process.env.RESTREAMER_LOG_LEVEL ?? 'info';
  const format = resolveLogFormat(opts.format, opts.file, opts.tty);
  if (opts.stream) {
    return { logger: pino(pinoOptions(format === 'restreamer' ? 'restreamer' : 'json', level), opts.stream), format, reopen: () => {}, close: () => Promise.resolve() };
  }
  if (opts.file) openLogFile(opts.file);
  // Lines are gathered into writes of 2-4 KiB, at most 100 ms late (a mass connect logs a
  // line per client: one write each measured ~5 % of the proxy's time). pino flushes what
  // is left when the process exits unexpectedly; close() is the clean way.
  const dest = pino.destination({
    dest: opts.file ? opts.file : 1, sync: false,
    minLength: LOG_WRITE_BYTES, maxWrite: LOG_MAX_WRITE, periodicFlush: LOG_FLUSH_MS,
  });
  // A log that cannot be written (disk full, a reopen after rotation that fails) must not
  // take the proxy down: say so on stderr, once per kind of error.
  const reported = new Set<string>();
  dest.on('error', (err: NodeJS.ErrnoException) => {
    const code = err.code ?? err.message;
    if (reported.has(code)) return;
    reported.add(code);
    process.stderr.write(`restreamer: cannot write the log${opts.file ? ` file ${opts.file}` : ''}: ${err.message}\n`);
  });
  let out: DestinationStream = dest;
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-boolean-literal-compare -- isTTY is undefined when stdout is no terminal
  if (format === 'pretty') out = prettyStream(dest, !opts.file && (opts.tty ?? process.stdout.isTTY === true));
  else if (format === 'restreamer' && opts.file) out = { write: (line: string) => { dest.write(`[${rfc3339(new Date())}] ${line}`); } };
  let closed: Promise<void> | undefined;
  const logger = pino(pinoOptions(format, level), out);
  return {
    logger,
    format,
    reopen() {
      if (opts.file && !closed) dest.reopen();
    },
    close(waitMs = 1000) {
      closed ??= new Promise<void>((resolve) => {
        // flush() writes what is buffered after the write in flight (flushSync would write
        // it ahead of that one, and the one in flight could be lost at exit).
        const done = () => { clearTimeout(t); try { dest.flushSync(); } catch { /* stdout may be gone */ } resolve(); };
        const t = setTimeout(done, waitMs);
        try { dest.flush(() => done()); } catch { done(); }
      });
      return closed;
    },
  };
}

function pinoOptions(format: Exclude<LogFormat, 'auto'>, level: string): LoggerOptions {
  if (format !== 'restreamer') return { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime };
  return {
    level,
    base: undefined,
    messageKey: 'message',
    // No level key (the original has none), so the time comes first: no leading comma.
    timestamp: () => `"time":"${rfc3339(new Date())}"`,
    formatters: {
      level: () => ({}),
      log: (o) => originalFields(o),
    },
  };
}

/** Which of the original's modules wrote a line like this (its `module` key). */
function moduleOf(evt: unknown): string {
  if (typeof evt !== 'string') return 'main';
  if (evt.startsWith('upstream_') || evt.startsWith('multicast_') || evt === EVT.alignerDiscard || evt.startsWith('alarm_')) return 'client';
  if (evt.startsWith('client_')) return 'connection';
  if (evt === EVT.access || evt.startsWith('static_')) return 'api';
  if (evt.startsWith('notify')) return 'event';
  return 'main';
}

/** Our fields as the original names them: `event`, `module`, `remote` as "ip:port". */
function originalFields(o: Record<string, unknown>): Record<string, unknown> {
  const { evt, remote, port, ...rest } = o;
  const out: Record<string, unknown> = { event: evt ?? 'log', module: moduleOf(evt), ...rest };
  if (typeof remote === 'string') out.remote = typeof port === 'number' ? (remote.includes(':') ? `[${remote}]:${port}` : `${remote}:${port}`) : remote;
  else if (remote !== undefined) out.remote = remote;
  if (port !== undefined && typeof remote !== 'string') out.port = port;
  return out;
}

/** Go's time.RFC3339: local time, whole seconds, "Z" or the offset. */
export function rfc3339(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${zone}`;
}

/**
 * One readable line per event, for a person at a terminal. A viewer's request line
 * (`access` with packet counts) is left out: `client_disconnect` says the same, so a
 * viewer shows as one line when it comes and one when it goes. (JSON keeps every line.)
 */
function prettyStream(dest: DestinationStream, colorize: boolean): DestinationStream {
  // Loaded only when used: a service logging JSON never pays for it.
  const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  const prettify = prettyFactory({
    colorize, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'evt', messageFormat: '{if evt}{evt}: {end}{msg}',
  });
  return {
    write(line: string) {
      if (line.includes('"evt":"access"') && line.includes('"packetsSent":')) return;
      dest.write(prettify(line));
    },
  };
}

/** A logger that writes nowhere (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
