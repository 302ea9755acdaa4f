import { RestreamerError } from '../errors.js';
import type { UpstreamCommon, UpstreamEnd } from './source.js';

/**
 * Bookkeeping shared by every upstream kind: the `connected` / `ended` promises and an
 * idempotent close. A kind calls `markConnected()` once it can deliver data and
 * `finish(err?)` exactly when the connection is gone; `teardown()` releases its handles.
 */
export abstract class UpstreamBase implements UpstreamCommon {
  /** A transport connection (source.ts TransportUpstream) unless a datagram receiver says otherwise. */
  readonly connectsOnData: boolean = false;
  readonly connected: Promise<void>;
  readonly ended: Promise<UpstreamEnd>;
  private resolveConnected!: () => void;
  private rejectConnected!: (e: RestreamerError) => void;
  private resolveEnded!: (e: UpstreamEnd) => void;
  private isConnected = false;
  private done = false;

  constructor() {
    this.connected = new Promise<void>((res, rej) => {
      this.resolveConnected = res;
      this.rejectConnected = rej;
    });
    // A rejected `connected` that nobody awaits must not crash the process.
    this.connected.catch(() => {});
    this.ended = new Promise<UpstreamEnd>((res) => { this.resolveEnded = res; });
  }

  get isDone(): boolean { return this.done; }

  protected markConnected(): void {
    if (this.done || this.isConnected) return;
    this.isConnected = true;
    this.resolveConnected();
  }

  /** End the connection (once). Before `connected`, a missing error becomes UPSTREAM_ENDED. */
  protected finish(error?: RestreamerError): void {
    if (this.done) return;
    this.done = true;
    try { this.teardown(); } catch { /* already gone */ }
    if (!this.isConnected) {
      this.rejectConnected(error ?? new RestreamerError('UPSTREAM_ENDED', 'upstream closed before it delivered data'));
    }
    this.resolveEnded(error ? { error } : {});
  }

  close(): void {
    this.finish();
  }

  /** Release sockets, file handles, child processes. Called once, from finish(). */
  protected abstract teardown(): void;
}
