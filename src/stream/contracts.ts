import type { EndReason, StreamHub } from '../hub/hub.js';
import type { StreamAnalyzer } from '../ts/analyzer.js';
import type { AnalyzerView } from '../metrics/analysis.js';

// The contracts of a stream, between the modules that provide one (src/stream/stream.ts in a
// single process or the primary, src/cluster/remote.ts in a worker) and those that use
// one (the HTTP endpoint, statistics, metrics, status). Types only: a neutral place both
// sides import, so neither imports the other.

/** What the endpoint needs to know about its stream (src/stream/stream.ts provides it). */
export interface StreamState {
  readonly name: string;
  readonly hub: StreamHub;
  /** Upstream connected and not switched offline by the control API. */
  readonly available: boolean;
  /** On-demand streams connect their upstream when a viewer asks. */
  readonly ondemand: boolean;
  /** Start the upstream if needed and wait (bounded) until it delivers; false = 404. */
  demand(): Promise<boolean>;
  viewerJoined(): void;
  viewerLeft(): void;
}

/**
 * The hard connection limit. Synchronous in one process; in multi-process mode the
 * primary decides, so the answer may come later (still exact: one counter decides).
 */
export interface AdmissionGate {
  acquire(): boolean | Promise<boolean>;
  release(): void;
}

/** What statistics need from a stream (src/stream/stream.ts Stream satisfies it; the primary's is cluster/views.ts). */
export interface StreamView {
  readonly name: string;
  /** Upstream connected. */
  readonly connected: boolean;
  /** Switched offline by the control API. */
  readonly offline: boolean;
  readonly hub: {
    readonly packetsIn: number;
    readonly packetsSent: number;
    readonly packetsDropped: number;
    readonly clientCount: number;
    clientMs(now?: number): number;
  };
  readonly aligner: {
    readonly discardedBytes: number;
    /** Input packet size detected at lock (188, 192, 204); 0 before the first lock. */
    readonly packetSize?: number;
  };
  /** Upstream URL being connected or connected; undefined while waiting. */
  readonly currentUrl: string | undefined;
  /** Upstream connection attempts after the first. */
  readonly reconnects: number;
  /** Raw bytes read from upstreams. */
  readonly bytesIn: number;
  /** What the stream carries (programs, codecs, keyframes), when analysed. */
  readonly analyzer?: AnalyzerView;
}


/**
 * Where a Stream (src/stream/stream.ts) sends its aligned packets and upstream events: its hub
 * where the clients are (a StreamHub satisfies it), or in a multi-process primary the
 * workers (cluster/mirror.ts), with no ring here since no client is.
 */
export interface StreamOutput {
  /** What the stream carries, for statistics, metrics and the status page. */
  readonly analyzer: StreamAnalyzer;
  /** Packets received from the upstream. */
  readonly packetsIn: number;
  /** Viewers (in a multi-process primary: in all workers). */
  readonly clientCount: number;
  /** The ring the clients read, where they are (the status page measures their lag from its head). */
  readonly ring?: { readonly head: number };
  /** Aligned packets (PacketSink signature: `buf` is only valid during the call). */
  push(buf: Buffer, offset: number, count: number): void;
  /** Offer what has accumulated now (the upstream ended). */
  flush(): void;
  /** Upstream lost, clients kept for the grace period. */
  upstreamLost(): void;
  /** A new upstream delivers: clients resume at its first keyframe. */
  upstreamResumed(): void;
  endAll(reason: EndReason): void;
  /** Availability changed: upstream connected or not, switched offline or not (only where clients ask elsewhere). */
  state?(up: boolean, offline: boolean): void;
  close(): void;
}
