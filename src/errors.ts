// One catalogue of errors: every failure the proxy reports has a stable `code` (used in
// logs and tests), declared once below with its message template, the HTTP status it
// answers where it reaches a client, and what it means (docs/errors.md lists the same,
// and test/unit/errors.test.ts holds the two together).

interface Entry<S extends number | undefined, P> {
  /** The HTTP status a client gets for this failure; undefined: it never reaches a client. */
  readonly status: S;
  /** What it means, for docs/errors.md. */
  readonly doc: string;
  readonly message: (p: P) => string;
}

function entry<S extends number | undefined, P>(status: S, doc: string, message: (p: P) => string): Entry<S, P> {
  return { status, doc, message };
}

/** Codes raised from many places with their own wording: the message is the detail given. */
const detail = (d: string): string => d;

/** Every upstream failure that reaches a client (a static resource's) is a bad gateway, as in the original. */
const BAD_GATEWAY = 502;

export const CATALOGUE = {
  CLI_USAGE: entry(undefined, 'the command line cannot be read (an unknown option, an option without its value, two CONFIG arguments, an unknown --log-format): exit 2, with the usage for the first two', detail),
  CONFIG_INVALID: entry(undefined, 'the configuration (file, --listen, a resource) cannot work: exit 2 before listening; a reload is refused', detail),
  CONFIG_UNREADABLE: entry(undefined, 'the configuration file cannot be read: exit 2; a reload is refused', detail),
  LOG_UNWRITABLE: entry(undefined, 'the log file cannot be opened for appending: exit 1 at start',
    (p: { file: string; why: string }) => `cannot open the log file ${p.file}: ${p.why}`),
  LISTEN_FAILED: entry(undefined, 'the listen address cannot be used (in use, permission denied, not an address of this machine, an unknown host name): exit 1 at start', detail),
  START_FAILED: entry(undefined, 'any other failure to start, named in the message: exit 1', detail),
  RELOAD_REFUSED: entry(undefined, 'a reload (SIGHUP) changes what cannot change while running (`listen`, `workers`, `tls.listen`, `tls.only`, adding or removing `tls`), or could not be applied: refused, the running configuration stays', detail),
  TLS_PAIR_INVALID: entry(undefined, '`tls.cert` / `tls.key` cannot be used (unreadable, not PEM, the key does not belong to the certificate, expired or not yet valid): exit 2 at start and with --check; on SIGHUP the reload is refused and the running pair and configuration stay',
    (p: { cert: string; key: string; why: string }) => `TLS certificate ${p.cert} with key ${p.key}: ${p.why}`),
  INTERNAL_SOCKET: entry(undefined, 'multi-process mode: the folder or the Unix socket through which the workers reach the primary could not be made: exit 1 at start',
    (p: { where: string; why: string; hint?: string }) => `cannot create the internal socket of the worker processes in ${p.where}: ${p.why}${p.hint ? `; ${p.hint}` : ''}`),
  WORKER_START: entry(undefined, 'multi-process mode: a worker process exited before it was ready: exit 1 at start (its own error, if any, is in the log)',
    (p: { worker: number; code: number | null; signal: string | null }) => `worker ${p.worker} exited during start-up (code ${p.code}, signal ${p.signal})`),
  UPSTREAM_CONNECT_TIMEOUT: entry(BAD_GATEWAY, 'no connection (or, for static, no response headers) within `timeout`', detail),
  UPSTREAM_READ_TIMEOUT: entry(BAD_GATEWAY, 'connected, but no data for `readtimeout` (or a static body not complete within its deadline)', detail),
  UPSTREAM_REFUSED: entry(BAD_GATEWAY, 'the connection was refused, reset or could not be routed', detail),
  UPSTREAM_DNS: entry(BAD_GATEWAY, 'the upstream host name could not be resolved', detail),
  UPSTREAM_HTTP_STATUS: entry(BAD_GATEWAY, 'the upstream answered an HTTP status other than 200 (a static resource passes that status and body on instead)', detail),
  UPSTREAM_TOO_MANY_REDIRECTS: entry(BAD_GATEWAY, 'more than 5 redirects', detail),
  UPSTREAM_ENDED: entry(BAD_GATEWAY, 'the upstream closed before it delivered data (or before the end of a static body)', detail),
  UPSTREAM_NO_SYNC: entry(undefined, 'bytes arrived but no aligned MPEG-TS packet', detail),
  UPSTREAM_UNHEALTHY: entry(undefined, 'failover "health": a failover alarm stayed raised for `alarmtime`, so the stream left this remote (docs/health.md)', detail),
  UPSTREAM_IO: entry(BAD_GATEWAY, 'any other read or socket error (a file that is a directory, a socket bound by another process, ...)', detail),
  UPSTREAM_UNSUPPORTED: entry(BAD_GATEWAY, 'an upstream URL or redirect this proxy cannot use (scheme, missing optional package)', detail),
  UPSTREAM_CHILD_EXIT: entry(undefined, 'a fork:// command exited with an error, or before writing any data', detail),
  UPSTREAM_SPAWN: entry(undefined, 'a fork:// command could not be started (not found, not executable)', detail),
  UPSTREAM_INTERFACE: entry(undefined, '`clientinterface` names no usable interface, or an IPv6 group needs one', detail),
  STREAM_OFFLINE: entry(404, 'a stream request while the stream cannot serve (upstream not delivering yet, lost, or switched offline by the control API): 404 with the stream headers and no body, as in the original (legacy clients handle 503 badly); logged as `client_rejected` (info level, with the client address)', detail),
  LIMIT_REACHED: entry(404, 'a stream request beyond `maxconnections`: 404 with the stream headers and no body, as in the original; logged as `client_rejected` (info level, with the client address)', detail),
  STATIC_TOO_LARGE: entry(BAD_GATEWAY, 'a static resource larger than its limit (10 MiB)',
    (p: { max: number }) => `static resource is larger than ${p.max} bytes`),
  STATIC_UPSTREAM: entry(BAD_GATEWAY, 'the static resource was closed (reload, shutdown) while a fetch was running: its waiting requests get 502', detail),
} as const;

export type ErrorCode = keyof typeof CATALOGUE;
/** What the message template of `C` takes. */
export type ErrorParams<C extends ErrorCode> = Parameters<(typeof CATALOGUE)[C]['message']>[0];

export class RestreamerError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  constructor(code: C, params: ErrorParams<C>, opts: { cause?: unknown } = {}) {
    const template = CATALOGUE[code].message as (p: ErrorParams<C>) => string;
    super(template(params), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RestreamerError';
    this.code = code;
  }

  /** The HTTP status a client gets for this error; undefined when it never reaches one. */
  get status(): number | undefined {
    return CATALOGUE[this.code].status;
  }
}

/** Narrows anything thrown to a catalogued error (of any code). */
export function isRestreamerError(err: unknown): err is RestreamerError {
  return err instanceof RestreamerError;
}

/** The errno fields of anything thrown (not everything thrown is an Error, or an object). */
export function errnoOf(err: unknown): Partial<NodeJS.ErrnoException> {
  return typeof err === 'object' && err !== null ? err : {};
}

/** The message of anything thrown: its `message` if it has one, else its text. */
export function errorText(err: unknown): string {
  const m = errnoOf(err).message;
  return typeof m === 'string' ? m : String(err);
}

/** Map a Node system error (ECONNREFUSED, ENOTFOUND, ...) onto the catalogue. */
export function fromSystemError(err: unknown, what: string): RestreamerError {
  if (isRestreamerError(err)) return err;
  const e = errnoOf(err);
  const msg = `${what}: ${errorText(err)}`;
  switch (e.code) {
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOENT':
      return new RestreamerError(e.code === 'ENOENT' ? 'UPSTREAM_IO' : 'UPSTREAM_REFUSED', msg, { cause: err });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new RestreamerError('UPSTREAM_DNS', msg, { cause: err });
    default:
      return new RestreamerError('UPSTREAM_IO', msg, { cause: err });
  }
}
