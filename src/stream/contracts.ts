import type { ProgramInfo } from '../ts/psi.js';
import type { Indicator } from '../ts/alarms.js';

// The contracts of a stream, between the modules that provide one (src/stream/stream.ts in a
// single process or the primary, src/cluster/remote.ts in a worker) and those that use
// one (the HTTP endpoint, statistics, metrics, status). Types only, and no concrete module
// of hub/ or metrics/: a neutral place both sides import, so neither imports the other.
// The hub (hub/hub.ts, which may not import this) satisfies the hub-shaped ones.

/** Why a client's response ends (the hub's EndReason, which must stay the same: test/unit/stream checks). */
export type EndReason = 'upstream_lost' | 'offline' | 'shutdown' | 'closed' | 'too_slow' | 'kicked';

/** Where a client's bytes go: the endpoint adapts a response to it (hub/client.ts ClientSink). */
export interface ClientSink {
  /** How what write() gets is wrapped (chunked: one framed buffer per write). */
  readonly framing: 'raw' | 'chunked';
  /** Queue bytes; false means "stop until drained" (Node's write() contract). */
  write(buf: Buffer): boolean;
  /** End the client's response. */
  end(reason: EndReason): void;
}

/** A client in its stream's hub: read position and counters (hub/client.ts HubClient). */
export interface StreamClient {
  /** Ring index of the next packet it needs. */
  readonly cursor: number;
  readonly closed: boolean;
  /** When it joined, ms since the epoch (the hub's clock). */
  readonly connectedAt: number;
  readonly packetsSent: number;
  readonly packetsDropped: number;
}

/** Where the endpoint joins its clients: the stream's hub (a StreamHub). */
export interface ClientHub {
  addClient(sink: ClientSink): StreamClient;
  removeClient(c: StreamClient): void;
  /** The client's sink drained: send what it is missing. */
  drained(c: StreamClient): void;
}

/** What the stream analysis exposes (ts/analyzer.ts StreamAnalyzer satisfies it). */
export interface AnalyzerView {
  readonly programs: readonly ProgramInfo[];
  readonly videoPid: number;
  readonly videoCodec: string | undefined;
  readonly continuityErrors: number;
  readonly rapTimeMs: number;
  readonly gopMs: number;
  readonly gopPackets: number;
}

/** What the endpoint needs to know about its stream (src/stream/stream.ts provides it). */
export interface StreamState {
  readonly name: string;
  readonly hub: ClientHub;
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

/** An alarm of a stream's health checks raised or cleared (docs/health.md). */
export interface StreamAlarm {
  readonly stream: string;
  readonly indicator: Indicator;
  readonly raised: boolean;
  readonly priority: 1 | 2;
  /** The remote in use, its password redacted. */
  readonly remote: string;
}

/** What a stream's health checks show (src/stream/health.ts StreamHealth). */
export interface StreamHealthView {
  /** The indicators raised now on the remote in use. */
  readonly alarms: readonly Indicator[];
  /** Errors per indicator over every connection of the stream (monotonic). */
  counts(): Record<Indicator, number>;
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
  /** The upstream's health checks, where the upstream is. */
  readonly health?: StreamHealthView;
}


/** What every StreamOutput does, wherever its clients are. */
interface OutputCommon {
  /** What the stream carries, for statistics, metrics and the status page. */
  readonly analyzer: AnalyzerView;
  /** Packets received from the upstream. */
  readonly packetsIn: number;
  /** Viewers (in a multi-process primary: in all workers). */
  readonly clientCount: number;
  /** Aligned packets (PacketSink signature: `buf` is only valid during the call). */
  push(buf: Buffer, offset: number, count: number): void;
  /** Offer what has accumulated now (the upstream ended). */
  flush(): void;
  /** Upstream lost, clients kept for the grace period. */
  upstreamLost(): void;
  /** A new upstream delivers: clients resume at its first keyframe. */
  upstreamResumed(): void;
  endAll(reason: EndReason): void;
  close(): void;
}

/** The clients are here: the stream's hub (a StreamHub). */
export interface HubOutput extends OutputCommon {
  readonly kind: 'hub';
  /** The ring the clients read (the status page measures their lag from its head). */
  readonly ring: { readonly head: number };
}

/**
 * The clients are elsewhere: a multi-process primary's workers (cluster/mirror.ts), where
 * requests ask whether the stream can be served, so they are told when that changes.
 */
export interface RelayOutput extends OutputCommon {
  readonly kind: 'relay';
  /** Availability changed: upstream connected or not, switched offline or not. */
  state(up: boolean, offline: boolean): void;
}

/** Where a Stream (src/stream/stream.ts) sends its aligned packets and upstream events. */
export type StreamOutput = HubOutput | RelayOutput;
