import type { EndReason } from './hub.js';

/**
 * Where a stream's packets and upstream events go besides its own hub: in multi-process
 * mode, the worker processes (src/cluster/fanout.ts). Same calls as the hub's.
 */
export interface StreamMirror {
  push(buf: Buffer, offset: number, count: number): void;
  /** Upstream lost, clients kept for the grace period. */
  upstreamLost(): void;
  /** A new upstream delivers: clients resume at its first keyframe. */
  upstreamResumed(): void;
  endAll(reason: EndReason): void;
  /** Availability changed: upstream connected or not, switched offline or not. */
  state(up: boolean, offline: boolean): void;
  /** Clients watching through the mirror (all workers). */
  readonly clientCount: number;
}
