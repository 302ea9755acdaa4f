import { PacketRing } from './ring.js';
import { TS_PACKET_SIZE } from '../ts/aligner.js';

/** Where a client's bytes go. The hub never sees HTTP; src/http adapts a response to this. */
export interface ClientSink {
  /** Queue bytes; false means "stop until drained" (Node's write() contract). */
  write(buf: Buffer): boolean;
  /** End the client's response (upstream lost, stream taken offline, shutdown). */
  end(reason: EndReason): void;
}

export type EndReason = 'upstream_lost' | 'offline' | 'shutdown' | 'closed';

export interface HubOptions {
  /** How far (packets) a client may fall behind before it loses the oldest data. */
  outputBufferPackets: number;
  /** Extra ring space beyond outputBuffer (e.g. inputbuffer), packets. */
  ringPackets?: number;
  /** Longest time data waits before it is sent, ms (0 = send on every push). */
  batchMs: number;
  /** Send early once this many bytes have accumulated. */
  flushBytes?: number;
  /** Largest single write for a client catching up, bytes. */
  maxWriteBytes?: number;
}

/** One client's read position and counters. Memory per client is O(1). */
export class HubClient {
  /** Absolute ring index of the next packet this client needs. */
  cursor: number;
  /** Waiting for 'drain': nothing is written until drained() is called. */
  waiting = false;
  packetsSent = 0;
  packetsDropped = 0;
  readonly connectedAt = Date.now();
  closed = false;
  constructor(readonly sink: ClientSink, cursor: number) { this.cursor = cursor; }
}

/**
 * One stream's fan-out: a single ring written by the upstream, read by every client.
 * Clients at the live edge share one batch buffer per flush (one copy per flush, not per
 * client); a lagging client gets its own copy of just the part it is missing.
 */
export class StreamHub {
  readonly ring: PacketRing;
  private readonly clients = new Set<HubClient>();
  private readonly outputBuffer: number;
  private readonly batchMs: number;
  private readonly flushPackets: number;
  private readonly maxWritePackets: number;
  /** Ring index up to which data has been offered to clients. */
  private flushed = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  // Plain counters, read by metrics and statistics when they publish.
  packetsIn = 0;
  packetsSent = 0;
  packetsDropped = 0;
  /** Sum of finished clients' streaming time, ms (running clients are added on read). */
  finishedClientMs = 0;

  constructor(opts: HubOptions) {
    this.outputBuffer = opts.outputBufferPackets;
    this.batchMs = opts.batchMs;
    this.flushPackets = Math.max(1, Math.floor((opts.flushBytes ?? 64 * 1024) / TS_PACKET_SIZE));
    this.maxWritePackets = Math.max(1, Math.floor((opts.maxWriteBytes ?? 256 * 1024) / TS_PACKET_SIZE));
    // The ring must hold everything a client may lag by, plus one batch being assembled.
    const cap = Math.max(this.outputBuffer, opts.ringPackets ?? 0) + this.flushPackets + 1;
    this.ring = new PacketRing(cap);
  }

  get clientCount(): number { return this.clients.size; }

  /** Aligned packets from the upstream (PacketSink signature). */
  push(buf: Buffer, offset: number, count: number): void {
    if (this.closed) return;
    this.ring.write(buf, offset, count);
    this.packetsIn += count;
    if (this.clients.size === 0) {
      this.flushed = this.ring.head;
      return;
    }
    if (this.ring.head - this.flushed >= this.flushPackets || this.batchMs === 0) this.flush();
    else if (!this.timer) this.timer = setTimeout(this.onTimer, this.batchMs);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.flush();
  };

  /** Offer everything accumulated since the last flush to every client. */
  flush(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    const from = this.flushed;
    const to = this.ring.head;
    if (to === from) return;
    this.flushed = to;
    let shared: Buffer | undefined;
    for (const c of this.clients) {
      if (c.waiting) {
        this.trimLag(c);
        continue;
      }
      if (c.cursor === from) {
        shared ??= this.ring.copyOut(from, to);
        c.cursor = to;
        c.packetsSent += to - from;
        this.packetsSent += to - from;
        if (!c.sink.write(shared)) c.waiting = true;
      } else {
        this.catchUp(c, to);
      }
    }
  }

  /** Add a client at the live edge. */
  addClient(sink: ClientSink): HubClient {
    const c = new HubClient(sink, this.flushed);
    this.clients.add(c);
    return c;
  }

  /** The client's sink drained: send what it is missing, up to the last flush point. */
  drained(c: HubClient): void {
    if (c.closed || !c.waiting) return;
    c.waiting = false;
    this.catchUp(c, this.flushed);
  }

  /** The client is gone (its socket closed). */
  removeClient(c: HubClient): void {
    if (c.closed) return;
    c.closed = true;
    this.clients.delete(c);
    this.finishedClientMs += Date.now() - c.connectedAt;
  }

  /** End every client's response (upstream loss, offline, shutdown). */
  endAll(reason: EndReason): void {
    for (const c of [...this.clients]) {
      this.removeClient(c);
      c.sink.end(reason);
    }
  }

  /** Streaming time of all clients so far, ms (finished plus running). */
  clientMs(now = Date.now()): number {
    let ms = this.finishedClientMs;
    for (const c of this.clients) ms += now - c.connectedAt;
    return ms;
  }

  close(): void {
    if (this.closed) return;
    this.endAll('shutdown');
    this.closed = true;
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
  }

  /** Drop the oldest data of a client that is more than outputBuffer packets behind. */
  private trimLag(c: HubClient): void {
    const lag = this.ring.head - c.cursor;
    if (lag > this.outputBuffer) {
      const skip = lag - this.outputBuffer;
      c.cursor += skip;
      c.packetsDropped += skip;
      this.packetsDropped += skip;
    }
  }

  private catchUp(c: HubClient, to: number): void {
    this.trimLag(c);
    while (c.cursor < to) {
      const end = Math.min(to, c.cursor + this.maxWritePackets);
      const chunk = this.ring.copyOut(c.cursor, end);
      c.packetsSent += end - c.cursor;
      this.packetsSent += end - c.cursor;
      c.cursor = end;
      if (!c.sink.write(chunk)) { c.waiting = true; return; }
    }
  }
}
