import type { StreamAnalysis } from '../metrics/analysis.js';
import type { SwitchReason } from '../sources/remotes.js';

// What the status page shows, as plain JSON-ready data. The page handler gets it through
// StatusSource, so it does not care whether the figures come from this process (one
// process) or from the primary's view of the workers (multi-process mode).

/**
 * connected: upstream delivering. connecting: no upstream yet (or reconnecting, no
 * clients kept). grace: upstream lost, clients kept while it is replaced. idle: an
 * on-demand stream nobody watches. offline: switched offline (control API or the page).
 */
export type StreamStateName = 'connected' | 'connecting' | 'grace' | 'idle' | 'offline';

export interface ClientStatus {
  /** Opaque id for the "end" action. */
  id: string;
  address: string | null;
  userAgent: string | null;
  /** Authenticated user (the stream's authentication), or null. */
  user: string | null;
  /** How long it has been connected, ms. */
  durationMs: number;
  /** Bytes of TS packets sent (packets x 188, as the statistics API counts). */
  bytes: number;
  /** Packets it lost because it read too slowly. */
  packetsDropped: number;
  /** How far behind the live edge it is, packets. */
  lagPackets: number;
}

export interface StreamStatus {
  /** Serve path. */
  path: string;
  /** Display name (the resource's `name`, else its serve path). */
  name: string;
  /** Upstream in use, credentials redacted; null while none. */
  upstream: string | null;
  state: StreamStateName;
  ondemand: boolean;
  clients: number;
  /** Bits per second of TS packets received / sent (as the statistics API). */
  bitrateIn: number;
  bitrateOut: number;
  packetsReceived: number;
  packetsSent: number;
  packetsDropped: number;
  reconnects: number;
  /** Bitrate history for the sparkline, oldest first, one value per `historyIntervalS`. */
  historyIn: number[];
  historyOut: number[];
  analysis: StreamAnalysis | null;
  /** Health indicators raised now on the upstream in use (docs/health.md), in checking order. */
  alarms: string[];
  /** Errors per health indicator since the stream started; null where the checks do not run in this process. */
  healthErrors: Record<string, number> | null;
  /** Why the upstream in use is the one in use (the last switch); null while none delivers. */
  upstreamReason: UpstreamReason | null;
  /** The first clients (at most a few hundred; `clients` is the full count). */
  clientList: ClientStatus[];
}

/** SwitchReason (sources/remotes.ts) for the page: URLs redacted, and said in words. */
export interface UpstreamReason extends Omit<SwitchReason, 'from'> {
  /** The remote left, or the last one that failed, credentials redacted. */
  from: string | null;
  /** The reason in a sentence. */
  text: string;
}

export interface StatusSnapshot {
  /** Wall clock of the snapshot, ms since the epoch. */
  time: number;
  connections: number;
  maxConnections: number;
  fullConnections: number;
  /** Statistics collector enabled (nostats: false, rates read 0). */
  stats: boolean;
  historyIntervalS: number;
  /** Per-client rows and the "end client" action are available (single process only). */
  clientDetails: boolean;
  streams: StreamStatus[];
}

/** Where the status page gets its data and carries out its actions. */
export interface StatusSource {
  /** Per-client rows and endClient work here (false in multi-process mode today). */
  readonly clientDetails: boolean;
  snapshot(): Promise<StatusSnapshot>;
  /** End one client's connection; false when no such client (or not possible here). */
  endClient(id: string): Promise<boolean>;
  /** Switch a stream offline/online (the control API's semantics); false for an unknown path. */
  setOffline(path: string, offline: boolean): Promise<boolean>;
}
