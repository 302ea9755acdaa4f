import { RestreamerError } from '../errors.js';
import { redactUrl } from '../log/redact.js';
import type { SourceKind, Upstream } from './source.js';

// A stream's upstream URLs and connection attempts as its supervisor (supervisor.ts) holds them.

export interface Remote {
  raw: string;
  safe: string;
  /** What to open, or why it cannot be opened at all. */
  target: { url: URL; kind: SourceKind } | RestreamerError;
  /** Consecutive failed attempts, and the last code logged, to log each streak once. */
  failures: number;
  lastCode: string | undefined;
}

export function fisherYates<T>(items: T[]): T[] {
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/**
 * A configured upstream URL. The config checks (config/checks.ts) drop URLs that cannot
 * work, with the kind's own check; what is left to refuse here is what cannot be opened at
 * all: each attempt at it fails with UPSTREAM_UNSUPPORTED and the reason.
 */
export function remoteOf(raw: string, find: (scheme: string) => SourceKind | undefined): Remote {
  const safe = redactUrl(raw);
  const url = URL.canParse(raw) ? new URL(raw) : undefined;
  const kind = url && find(url.protocol);
  const target = url && kind ? { url, kind }
    : new RestreamerError('UPSTREAM_UNSUPPORTED', url ? `unsupported upstream scheme "${url.protocol}"` : `invalid upstream URL: ${safe}`);
  return { raw, safe, target, failures: 0, lastCode: undefined };
}

/** One connection attempt at a remote, from open() to its end. */
export interface Attempt {
  remote: Remote;
  /** Its index in the remotes. */
  index: number;
  /** Health failover: the remote to go to at once when this run ends. */
  switchTo?: number;
  upstream: Upstream | undefined;
  startedAt: number;
  connected: boolean;
  /** Delivered an aligned packet: the connection is established. */
  delivering: boolean;
  /** Counters when the transport connected, to report what a failed connection did. */
  packetsAtConnect: number;
  bytesAtConnect: number;
  discardedAtConnect: number;
  done: boolean;
  /** Set when the supervisor itself closed it (timeouts): overrides the upstream's view. */
  reason: RestreamerError | undefined;
}
