import { pino, type Logger, type DestinationStream } from 'pino';

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
  fdExhausted: 'fd_exhausted',
  httpSocketCap: 'http_socket_cap',
  httpError: 'http_error',
  statusAction: 'status_action',
} as const;

export interface LogHandle {
  logger: Logger;
  /** Reopen the log file (SIGHUP / logrotate). No-op when logging to stdout. */
  reopen(): void;
  /**
   * Write out every line logged so far (waiting for a write in flight, at most `waitMs`),
   * then stop. Idempotent. Await it before process.exit(): a write still queued in Node's
   * thread pool is lost when the process exits.
   */
  close(waitMs?: number): Promise<void>;
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

export function createLogger(opts: { file?: string; level?: string; stream?: DestinationStream } = {}): LogHandle {
  const level = opts.level ?? process.env.RESTREAMER_LOG_LEVEL ?? 'info';
  if (opts.stream) {
    return { logger: pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, opts.stream), reopen() {}, close: () => Promise.resolve() };
  }
  // Lines are gathered into writes of 2-4 KiB, at most 100 ms late (a mass connect logs a
  // line per client: one write each measured ~5 % of the proxy's time). pino flushes what
  // is left when the process exits unexpectedly; close() is the clean way.
  const dest = pino.destination({
    dest: opts.file ? opts.file : 1, sync: false, mkdir: !!opts.file,
    minLength: LOG_WRITE_BYTES, maxWrite: LOG_MAX_WRITE, periodicFlush: LOG_FLUSH_MS,
  });
  let closed: Promise<void> | undefined;
  const logger = pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, dest);
  return {
    logger,
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

/** A logger that writes nowhere (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
