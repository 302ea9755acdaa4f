// One catalogue of errors: every failure the proxy reports has a stable `code`
// (used in logs and tests) and, where it reaches an HTTP client, a status.

export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_UNREADABLE'
  | 'LOG_UNWRITABLE'
  | 'UPSTREAM_CONNECT_TIMEOUT'
  | 'UPSTREAM_READ_TIMEOUT'
  | 'UPSTREAM_IDLE_TIMEOUT'
  | 'UPSTREAM_REFUSED'
  | 'UPSTREAM_DNS'
  | 'UPSTREAM_HTTP_STATUS'
  | 'UPSTREAM_TOO_MANY_REDIRECTS'
  | 'UPSTREAM_ENDED'
  | 'UPSTREAM_NO_SYNC'
  | 'UPSTREAM_IO'
  | 'UPSTREAM_UNSUPPORTED'
  | 'UPSTREAM_CHILD_EXIT'
  | 'UPSTREAM_SPAWN'
  | 'UPSTREAM_INTERFACE'
  | 'STREAM_OFFLINE'
  | 'LIMIT_REACHED'
  | 'AUTH_REQUIRED'
  | 'AUTH_FORBIDDEN'
  | 'STATIC_TOO_LARGE'
  | 'STATIC_UPSTREAM';

export class RestreamerError extends Error {
  readonly code: ErrorCode;
  readonly status: number | undefined;
  constructor(code: ErrorCode, message: string, opts: { status?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RestreamerError';
    this.code = code;
    this.status = opts.status;
  }
}

/** Map a Node system error (ECONNREFUSED, ENOTFOUND, ...) onto the catalogue. */
export function fromSystemError(err: unknown, what: string): RestreamerError {
  if (err instanceof RestreamerError) return err;
  const e = err as NodeJS.ErrnoException;
  const msg = `${what}: ${e?.message ?? String(err)}`;
  switch (e?.code) {
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
