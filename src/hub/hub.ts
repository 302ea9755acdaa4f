import { PacketRing } from './ring.js';
import { TS_PACKET_SIZE } from '../ts/packet.js';
import { StreamAnalyzer } from '../ts/analyzer.js';
import { CcContinuer } from '../ts/continuity.js';
import { nullPackets } from './prefix.js';
import { framed, framedFromRing } from './framing.js';
import { CatchUpCache, PrefixCache } from './join-cache.js';
import { HubClient, type ClientSink, type EndReason, type StartMode } from './client.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { BatchWindow } from './batch-window.js';
import { KeyframePolicy } from './keyframe-policy.js';
import { HlsSegmenter, type HlsOptions } from './hls-segmenter.js';

export type { Framing } from './framing.js';
export { HubClient, type ClientSink, type EndReason, type StartMode } from './client.js';

export interface HubOptions {
  /** How far (packets) a client may fall behind before it loses data. */
  outputBufferPackets: number;
  /** Extra ring space beyond outputBuffer (e.g. inputbuffer), packets. */
  ringPackets?: number;
  /** Time data waits before it is sent, ms (0 = send on every push). */
  batchMs: number;
  /**
   * Under load the window stretches up to this (default 3 × batchMs, at most 100 ms, never
   * below batchMs): when writing a batch to every client takes more than a fifth of the
   * window, or when the event loop is saturated.
   */
  maxBatchMs?: number;
  /**
   * While the event loop is saturated (a crowd connecting at once), send keyframe-start
   * clients only the start of their burst and then the live rate, and the rest of the burst
   * once the load has passed: everyone's first bytes come before anyone's bulk.
   */
  deferBursts?: boolean;
  /** With deferBursts: how much of the burst the first write carries, bytes (64 KiB). */
  firstBurstBytes?: number;
  /** Send early once this many bytes have accumulated. */
  flushBytes?: number;
  /** Largest single write for a client catching up, bytes. */
  maxWriteBytes?: number;
  /** Default start mode for new clients. */
  start?: StartMode;
  /** Disconnect a client that has waited for 'drain' this long, ms (0 = never). */
  slowTimeoutMs?: number;
  /** Upper bound of the ring when it grows to hold a whole GOP, bytes. */
  maxRingBytes?: number;
  /** Longest a new keyframe-start client waits for a first keyframe before starting live, ms. */
  keyframeWaitMs?: number;
  /** Time and timers (default: the real ones); tests pass a fake. */
  clock?: Clock;
  /** Also serve the stream as live HLS, segmented from this hub (docs/hls.md). */
  hls?: HlsOptions;
}

const NULLS = nullPackets(7);
const NULLS_CHUNKED = framed('chunked', NULLS);

/**
 * One stream's fan-out: a single ring written by the upstream, read by every client.
 * Clients at the live edge share one batch buffer per flush (one copy per flush, not per
 * client); a lagging or just-joined client gets its own copy of just what it is missing.
 * The analyzer tells where the latest PAT/PMT and keyframe are, so clients can start,
 * recover and resume at keyframes.
 */
export class StreamHub {
  /** A stream output whose clients are here (stream/contracts.ts HubOutput). */
  readonly kind = 'hub';
  readonly ring: PacketRing;
  readonly analyzer = new StreamAnalyzer();
  /**
   * Keeps every PID's continuity counters running in the ring across upstream sessions, so
   * the next counter of any PID is known in advance (splice markers, PAT/PMT copies).
   */
  readonly continuity = new CcContinuer();
  /** The stream's live HLS, fed from the ring batch by batch; undefined without `hls`. */
  readonly hls: HlsSegmenter | undefined;
  /** Data has arrived since the current upstream session began. */
  private sessionOpen = false;
  private readonly clients = new Set<HubClient>();
  private readonly outputBuffer: number;
  private readonly clock: Clock;
  /** When to flush, and how much a lagging client gets under saturation. */
  private readonly window: BatchWindow;
  private readonly flushPackets: number;
  private readonly maxWritePackets: number;
  private readonly maxRingPackets: number;
  /** Where clients start, resume and skip to. */
  private readonly keyframes: KeyframePolicy;
  /** Ring index up to which data has been offered to clients. */
  private flushed = 0;
  private fillerTimer: TimerHandle | undefined;
  /** Keyframes counted when the ring size was last checked against the GOP. */
  private rapsSeen = -1;
  /** PAT/PMT prefixes for clients starting at a keyframe, shared by those joining together. */
  private readonly prefixes: PrefixCache;
  /** Catch-up copies of the ring, shared by clients walking the same ranges. */
  private readonly chunks: CatchUpCache;
  private closed = false;

  // Plain counters, read by metrics and statistics when they publish.
  packetsIn = 0;
  packetsSent = 0;
  packetsDropped = 0;
  slowDisconnects = 0;
  /** Sum of finished clients' streaming time, ms (running clients are added on read). */
  finishedClientMs = 0;

  constructor(opts: HubOptions) {
    this.clock = opts.clock ?? systemClock;
    this.window = new BatchWindow(opts, this.clock, () => { this.flush(); });
    this.outputBuffer = opts.outputBufferPackets;
    this.flushPackets = this.window.flushPackets;
    this.maxWritePackets = Math.max(1, Math.floor((opts.maxWriteBytes ?? 256 * 1024) / TS_PACKET_SIZE));
    // The ring holds everything a client may lag by, plus one batch being assembled; it
    // grows (up to maxRingBytes) when a GOP does not fit, so keyframe starts keep working.
    const cap = Math.max(this.outputBuffer, opts.ringPackets ?? 0) + this.flushPackets + 1;
    this.maxRingPackets = Math.max(cap, Math.floor((opts.maxRingBytes ?? 32 * 1024 * 1024) / TS_PACKET_SIZE));
    this.ring = new PacketRing(cap);
    this.prefixes = new PrefixCache(this.analyzer, this.ring, this.continuity);
    this.chunks = new CatchUpCache(this.ring);
    this.keyframes = new KeyframePolicy(opts, this.clock, this.analyzer, this.ring, this.prefixes, this);
    this.hls = opts.hls && new HlsSegmenter(opts.hls, this, this.clock);
  }

  get clientCount(): number { return this.clients.size; }

  /** Aligned packets from the upstream (PacketSink signature). */
  push(buf: Buffer, offset: number, count: number): void {
    if (this.closed) return;
    this.sessionOpen = true;
    this.analyzer.scan(buf, offset, count, this.ring.head);
    this.ring.write(buf, offset, count);
    this.ring.forRuns(Math.max(this.ring.tail, this.ring.head - count), this.ring.head, this.stampRun);
    this.packetsIn += count;
    this.hls?.packets(Math.max(this.ring.tail, this.ring.head - count), this.ring.head);
    this.growForGop();
    if (this.clients.size === 0) {
      this.flushed = this.ring.head;
      return;
    }
    if (this.window.due(this.ring.head - this.flushed)) this.flush();
    else this.window.arm();
  }

  /** Continue the counters of packets just written to the ring (in place, before anyone has them). */
  private readonly stampRun = (b: Buffer, off: number, n: number): void => {
    const cc = this.continuity;
    for (let i = 0; i < n; i++, off += TS_PACKET_SIZE) cc.apply(b, off);
  };

  /**
   * The upstream session ended (a loss, a switch): forget its tables and keyframes at
   * once, so nobody starts in the old session's data and runs into the next one unmarked,
   * and let every PID's counters continue from where they stand when data comes again.
   * Idempotent until new data arrives.
   */
  private endSession(): void {
    if (!this.sessionOpen) return;
    this.sessionOpen = false;
    this.hls?.sessionEnded();
    this.analyzer.reset();
    this.continuity.join();
    this.prefixes.reset();
  }

  /** The batch window now in use, ms (batchms, stretched under load). */
  get batchWindowMs(): number { return this.window.ms; }

  /** Offer everything accumulated since the last flush to every client. */
  flush(): void {
    this.window.disarm();
    const from = this.flushed;
    const to = this.ring.head;
    if (to === from) return;
    this.flushed = to;
    const t0 = this.window.flushStarted();
    // One framed copy per framing in use, shared by every client at the live edge.
    let sharedRaw: Buffer | undefined;
    let sharedChunked: Buffer | undefined;
    for (const c of this.clients) {
      if (c.waitRap && !this.keyframes.tryResume(c, to)) continue;
      if (c.waiting) {
        if (this.keyframes.tooSlow(c)) {
          this.slowDisconnects++;
          this.removeClient(c);
          c.sink.end('too_slow');
          continue;
        }
        this.keyframes.trimLag(c, this.flushed);
        continue;
      }
      if (c.cursor === from && !c.prefix) {
        const shared = c.sink.framing === 'raw'
          ? (sharedRaw ??= framedFromRing('raw', this.ring, from, to))
          : (sharedChunked ??= framedFromRing('chunked', this.ring, from, to));
        c.cursor = to;
        c.packetsSent += to - from;
        this.packetsSent += to - from;
        if (!c.sink.write(shared)) this.markWaiting(c);
      } else if (this.window.saturated && !c.waitRap && c.cursor < from) {
        // Behind the live edge while the loop is saturated: the live amount (a little
        // more), so the lag does not grow; the rest when the load has passed.
        this.catchUp(c, this.window.deferredEnd(c.cursor, from, to));
      } else {
        this.catchUp(c, to);
      }
    }
    this.window.flushEnded(t0);
  }

  /**
   * Add a client. Keyframe mode: it gets PAT, PMT and the ring from the latest keyframe
   * at once (as fast as it reads), then continues live; with no keyframe known yet it
   * waits for the first one. Live mode: it starts at the live edge, as the original did.
   */
  addClient(sink: ClientSink, mode: StartMode = this.keyframes.start): HubClient {
    const c = new HubClient(sink, this.flushed, this.outputBuffer, mode, this.clock.now());
    this.clients.add(c);
    if (mode === 'keyframe' && this.keyframes.startAtKeyframe(c, this.flushed, this.flushPackets)) {
      // Saturated: PAT/PMT and the keyframe's first part now, the rest at the live rate.
      this.catchUp(c, this.window.firstWriteEnd(c.cursor, this.flushed));
    }
    return c;
  }

  /** The client's sink drained: send what it is missing, up to the last flush point. */
  drained(c: HubClient): void {
    if (c.closed || !c.waiting) return;
    c.waiting = false;
    if (c.waitRap) return;
    // Saturated: the next flush continues it (at the live rate), not this drain.
    if (this.window.saturated && c.cursor < this.flushed) return;
    this.catchUp(c, this.flushed);
  }

  /** The client is gone (its socket closed). */
  removeClient(c: HubClient): void {
    if (c.closed) return;
    c.closed = true;
    this.clients.delete(c);
    this.finishedClientMs += this.clock.now() - c.connectedAt;
  }

  /** End every client's response (upstream loss, offline, shutdown). */
  endAll(reason: EndReason): void {
    this.stopFiller();
    if (reason === 'upstream_lost') this.endSession();
    for (const c of [...this.clients]) {
      this.removeClient(c);
      c.sink.end(reason);
    }
  }

  /**
   * The upstream is gone but clients stay (failover grace): send a few null packets
   * every `intervalMs` so players and proxies in between do not time out.
   */
  upstreamLost(intervalMs = 500): void {
    this.flush();
    this.endSession();
    this.stopFiller();
    this.fillerTimer = this.clock.setInterval(() => {
      for (const c of this.clients) {
        if (c.waiting) continue;
        this.countSent(c, NULLS.length / TS_PACKET_SIZE);
        if (!c.sink.write(c.sink.framing === 'raw' ? NULLS : NULLS_CHUNKED)) this.markWaiting(c);
      }
    }, intervalMs);
  }

  /**
   * A (possibly different) upstream delivers again: every client resumes at its first
   * keyframe, after a fresh PAT/PMT and discontinuity markers. Call before its first data.
   */
  upstreamResumed(): void {
    this.stopFiller();
    this.flush();
    this.endSession();
    for (const c of this.clients) this.keyframes.waitForKeyframe(c, this.ring.head, this.flushed, false, true);
  }

  /** Streaming time of all clients so far, ms (finished plus running). */
  clientMs(now = this.clock.now()): number {
    let ms = this.finishedClientMs;
    for (const c of this.clients) ms += now - c.connectedAt;
    return ms;
  }

  close(): void {
    if (this.closed) return;
    this.endAll('shutdown');
    this.closed = true;
    this.window.disarm();
    this.hls?.close();
  }

  private stopFiller(): void {
    if (this.fillerTimer) { this.clock.clearInterval(this.fillerTimer); this.fillerTimer = undefined; }
  }

  /** Packets that are not ring data (PAT/PMT prefix, markers, keep-alive) count as sent too. */
  private countSent(c: HubClient, n: number): void {
    c.packetsSent += n;
    this.packetsSent += n;
  }

  private markWaiting(c: HubClient): void {
    c.waiting = true;
    c.waitingSince = this.clock.now();
  }

  private catchUp(c: HubClient, to: number): void {
    this.keyframes.trimLag(c, this.flushed);
    if (c.waitRap) return;
    if (c.prefix) {
      const p = c.prefix;
      c.prefix = undefined;
      this.countSent(c, p.length / TS_PACKET_SIZE);
      if (!c.sink.write(this.prefixes.framed(c.sink.framing, p))) { this.markWaiting(c); return; }
    }
    while (c.cursor < to) {
      const end = Math.min(to, c.cursor + this.maxWritePackets);
      const chunk = this.chunks.chunk(c.sink.framing, c.cursor, end, this.flushed - this.outputBuffer);
      c.packetsSent += end - c.cursor;
      this.packetsSent += end - c.cursor;
      c.cursor = end;
      if (!c.sink.write(chunk)) { this.markWaiting(c); return; }
    }
  }

  /** Grow the ring (rarely, by doubling) until two GOPs plus a client's buffer fit. */
  private growForGop(): void {
    // The GOP estimate only changes when a keyframe arrives.
    const raps = this.analyzer.rapCount;
    if (raps === this.rapsSeen) return;
    this.rapsSeen = raps;
    const gop = this.analyzer.gopPackets;
    if (gop <= 0) return;
    const need = Math.ceil(2 * gop) + this.outputBuffer + this.flushPackets + 1;
    if (need <= this.ring.capacity || this.ring.capacity >= this.maxRingPackets) return;
    this.ring.resize(Math.min(this.maxRingPackets, Math.max(need, this.ring.capacity * 2)));
  }
}
