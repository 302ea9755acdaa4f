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

/** Why the remote in use is the one in use (the status page shows it). */
export interface SwitchReason {
  /**
   * start: the stream's first connection; failed: the attempts before it failed; lost:
   * the connection in use before it ended; health: health failover left the one before.
   */
  kind: 'start' | 'failed' | 'lost' | 'health';
  /** The remote left, or the last one that failed (as configured), if any. */
  from: string | undefined;
  /** That remote's error (code: message), if any. */
  detail: string | undefined;
  /** Attempts that failed before this remote delivered. */
  failed: number;
  /** When this remote delivered its first packet (wall clock, ms). */
  since: number;
}

/** Keeps the SwitchReason of the connection in use, told of each end, failure and first packet. */
export class SwitchReasons {
  private pending: Omit<SwitchReason, 'since'> = { kind: 'start', from: undefined, detail: undefined, failed: 0 };
  private now: SwitchReason | undefined;

  /** The connection in use; undefined while there is none. */
  get current(): SwitchReason | undefined { return this.now; }

  /** The connection in use ended (`health`: health failover left it). */
  ended(from: string, reason: RestreamerError | undefined, health: boolean): void {
    this.now = undefined;
    this.pending = { kind: health ? 'health' : 'lost', from, detail: reason ? `${reason.code}: ${reason.message}` : undefined, failed: 0 };
  }

  /** An attempt failed before delivering. The first cause (a lost connection) stays the reason. */
  failed(from: string, reason: RestreamerError): void {
    const p = this.pending;
    p.failed++;
    if (p.kind === 'start' || p.kind === 'failed') Object.assign(p, { kind: 'failed', from, detail: `${reason.code}: ${reason.message}` });
  }

  /** The new connection delivered its first packet: it is the one in use now. */
  delivering(nowMs: number): void {
    this.now = { ...this.pending, since: nowMs };
    this.pending = { kind: 'start', from: undefined, detail: undefined, failed: 0 };
  }
}
