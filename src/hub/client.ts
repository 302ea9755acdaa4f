import type { Framing } from './framing.js';

/** Where a client's bytes go. The hub never sees HTTP; src/http adapts a response to this. */
export interface ClientSink {
  /** How the hub must wrap what it hands to write() (chunked: one framed buffer per write). */
  readonly framing: Framing;
  /** Queue bytes; false means "stop until drained" (Node's write() contract). */
  write(buf: Buffer): boolean;
  /** End the client's response (upstream lost, stream taken offline, shutdown, too slow). */
  end(reason: EndReason): void;
}

export type EndReason = 'upstream_lost' | 'offline' | 'shutdown' | 'closed' | 'too_slow' | 'kicked';

/** Where a new client starts: at the latest keyframe (after PAT/PMT) or at the live edge. */
export type StartMode = 'keyframe' | 'live';

/** One client's read position and counters. Memory per client is O(1). */
export class HubClient {
  /** Absolute ring index of the next packet this client needs. */
  cursor: number;
  /** Waiting for 'drain': nothing is written until drained() is called. */
  waiting = false;
  waitingSince = 0;
  packetsSent = 0;
  packetsDropped = 0;
  /** How far behind the head this client may fall (outputbuffer, plus its start burst). */
  lagLimit: number;
  /** Send nothing until a random access point at or after `resumeFrom` is in the ring. */
  waitRap = false;
  resumeFrom = 0;
  /** Skipped packets while waiting for a keyframe count as dropped (slow client), or not (upstream switch). */
  countSkipped = false;
  /** Give up waiting for a keyframe at this time (ms) and start live. */
  waitRapUntil = 0;
  withDiscontinuity = false;
  /** Bytes to send before the next ring data (PAT/PMT, discontinuity markers). */
  prefix: Buffer | undefined;
  closed = false;
  /** `connectedAt`: when it joined, ms since the epoch (the hub's clock). */
  constructor(readonly sink: ClientSink, cursor: number, lagLimit: number, readonly mode: StartMode, readonly connectedAt = Date.now()) {
    this.cursor = cursor;
    this.lagLimit = lagLimit;
  }
}

