import { performance } from 'node:perf_hooks';
import { PacketRing } from './ring.js';
import { TS_PACKET_SIZE } from '../ts/packet.js';
import { StreamAnalyzer } from '../ts/analyzer.js';
import { CcContinuer } from '../ts/continuity.js';
import { nullPackets, startPrefix } from './prefix.js';
import { framed, framedFromRing, type Framing } from './framing.js';
import { HubClient, type ClientSink, type EndReason, type StartMode } from './client.js';

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
}

const NULLS = nullPackets(7);
/** The batch window is at least this many times the (smoothed) time a flush takes. */
const WINDOW_PER_FLUSH = 4;
/** By default the window stretches to at most this many times batchms (and at most 100 ms). */
const MAX_WINDOW_FACTOR = 3;
/** Event-loop utilisation above which the window goes straight to its maximum. */
const SATURATED = 0.9;
/** Under saturation a client behind the live edge then gets this many times the live batch per flush. */
const DEFERRED_RATE = 1.25;
/** Catch-up copies kept for sharing (each at most maxWriteBytes). */
const CHUNK_CACHE_ENTRIES = 32;
const NULLS_CHUNKED = framed('chunked', NULLS);

/**
 * One stream's fan-out: a single ring written by the upstream, read by every client.
 * Clients at the live edge share one batch buffer per flush (one copy per flush, not per
 * client); a lagging or just-joined client gets its own copy of just what it is missing.
 * The analyzer tells where the latest PAT/PMT and keyframe are, so clients can start,
 * recover and resume at keyframes.
 */
export class StreamHub {
  readonly ring: PacketRing;
  readonly analyzer = new StreamAnalyzer();
  /**
   * Keeps every PID's continuity counters running in the ring across upstream sessions, so
   * the next counter of any PID is known in advance (splice markers, PAT/PMT copies).
   */
  readonly continuity = new CcContinuer();
  /** Data has arrived since the current upstream session began. */
  private sessionOpen = false;
  private readonly clients = new Set<HubClient>();
  private readonly outputBuffer: number;
  private readonly batchMs: number;
  private readonly maxBatchMs: number;
  /** Current batch window, ms: batchMs when idle, longer when flushes get expensive. */
  private windowMs: number;
  /** Smoothed duration of a flush, ms. */
  private flushCostMs = 0;
  /** Event-loop utilisation at the previous flush. */
  private eluMark = performance.eventLoopUtilization();
  private readonly deferBursts: boolean;
  /** Under saturation a new client's first write carries at most this much of its burst. */
  private readonly firstBurstPackets: number;
  /** Event-loop utilisation measured at the last flush. */
  private busy = 0;
  private readonly flushPackets: number;
  private readonly maxWritePackets: number;
  private readonly maxRingPackets: number;
  private readonly start: StartMode;
  private readonly slowTimeoutMs: number;
  private readonly keyframeWaitMs: number;
  /** Ring index up to which data has been offered to clients. */
  private flushed = 0;
  private timer: NodeJS.Timeout | undefined;
  private fillerTimer: NodeJS.Timeout | undefined;
  /** Keyframes counted when the ring size was last checked against the GOP. */
  private rapsSeen = -1;
  private readonly rawChunks = new Map<number, { end: number; buf: Buffer }>();
  private readonly chunkedChunks = new Map<number, { end: number; buf: Buffer }>();
  private closed = false;
  private prefixCache: {
    rap: number; disc: boolean; pat: Buffer | undefined; pmt: Buffer | undefined; head: number; final: boolean;
    buf: Buffer; chunked: Buffer | undefined;
  } | undefined;

  // Plain counters, read by metrics and statistics when they publish.
  packetsIn = 0;
  packetsSent = 0;
  packetsDropped = 0;
  slowDisconnects = 0;
  /** Sum of finished clients' streaming time, ms (running clients are added on read). */
  finishedClientMs = 0;

  constructor(opts: HubOptions) {
    this.outputBuffer = opts.outputBufferPackets;
    this.batchMs = opts.batchMs;
    this.maxBatchMs = Math.max(this.batchMs, opts.maxBatchMs ?? Math.min(MAX_WINDOW_FACTOR * this.batchMs, 100));
    this.windowMs = this.batchMs;
    this.deferBursts = opts.deferBursts ?? false;
    this.firstBurstPackets = Math.max(1, Math.floor((opts.firstBurstBytes ?? 64 * 1024) / TS_PACKET_SIZE));
    this.start = opts.start ?? 'keyframe';
    this.slowTimeoutMs = opts.slowTimeoutMs ?? 0;
    this.keyframeWaitMs = opts.keyframeWaitMs ?? 5000;
    this.flushPackets = Math.max(1, Math.floor((opts.flushBytes ?? 64 * 1024) / TS_PACKET_SIZE));
    this.maxWritePackets = Math.max(1, Math.floor((opts.maxWriteBytes ?? 256 * 1024) / TS_PACKET_SIZE));
    // The ring holds everything a client may lag by, plus one batch being assembled; it
    // grows (up to maxRingBytes) when a GOP does not fit, so keyframe starts keep working.
    const cap = Math.max(this.outputBuffer, opts.ringPackets ?? 0) + this.flushPackets + 1;
    this.maxRingPackets = Math.max(cap, Math.floor((opts.maxRingBytes ?? 32 * 1024 * 1024) / TS_PACKET_SIZE));
    this.ring = new PacketRing(cap);
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
    this.growForGop();
    if (this.clients.size === 0) {
      this.flushed = this.ring.head;
      return;
    }
    if (this.ring.head - this.flushed >= this.flushPackets || this.batchMs === 0) this.flush();
    else if (!this.timer) this.timer = setTimeout(this.onTimer, this.windowMs);
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
    this.analyzer.reset();
    this.continuity.join();
    this.prefixCache = undefined;
  }

  /** The batch window now in use, ms (batchms, stretched under load). */
  get batchWindowMs(): number { return this.windowMs; }

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
    this.measureLoad();
    const t0 = performance.now();
    // One framed copy per framing in use, shared by every client at the live edge.
    let sharedRaw: Buffer | undefined;
    let sharedChunked: Buffer | undefined;
    for (const c of this.clients) {
      if (c.waitRap && !this.tryResume(c, to)) continue;
      if (c.waiting) {
        if (this.slowTimeoutMs > 0 && Date.now() - c.waitingSince > this.slowTimeoutMs) {
          this.slowDisconnects++;
          this.removeClient(c);
          c.sink.end('too_slow');
          continue;
        }
        this.trimLag(c);
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
      } else if (this.saturated && !c.waitRap && c.cursor < from) {
        // Behind the live edge while the loop is saturated: the live amount (a little
        // more), so the lag does not grow; the rest when the load has passed.
        this.catchUp(c, Math.min(to, c.cursor + Math.ceil((to - from) * DEFERRED_RATE)));
      } else {
        this.catchUp(c, to);
      }
    }
    this.adaptWindow(performance.now() - t0);
  }

  /** Event-loop utilisation since the previous flush (only measured where it is used). */
  private measureLoad(): void {
    if (this.maxBatchMs === this.batchMs && !this.deferBursts) return;
    const now = performance.eventLoopUtilization();
    this.busy = performance.eventLoopUtilization(now, this.eluMark).utilization;
    this.eluMark = now;
  }

  /** Bursts are being deferred: the event loop was saturated over the last batch window. */
  private get saturated(): boolean {
    return this.deferBursts && this.busy > SATURATED;
  }

  /**
   * Interrupt coalescing, as network cards and Linux NAPI do it: when writing a batch to
   * every client gets expensive (many clients), wait longer between batches so fan-out takes
   * about a fifth of the time at most; when the event loop is saturated (a thousand clients
   * connecting at once, a busy machine), go straight to the longest window. Every write is
   * a syscall whatever its size, so fewer, larger writes leave CPU for accepting clients.
   * Clients lose nothing (a batch only waits longer); a client that just joined has a
   * whole keyframe burst to play meanwhile. Back to batchMs as soon as flushes are cheap.
   */
  private adaptWindow(ms: number): void {
    if (this.maxBatchMs === this.batchMs) return;
    this.flushCostMs += (ms - this.flushCostMs) * 0.25;
    this.windowMs = this.busy > SATURATED ? this.maxBatchMs
      : Math.min(this.maxBatchMs, Math.max(this.batchMs, WINDOW_PER_FLUSH * this.flushCostMs));
  }

  /**
   * Add a client. Keyframe mode: it gets PAT, PMT and the ring from the latest keyframe
   * at once (as fast as it reads), then continues live; with no keyframe known yet it
   * waits for the first one. Live mode: it starts at the live edge, as the original did.
   */
  addClient(sink: ClientSink, mode: StartMode = this.start): HubClient {
    const c = new HubClient(sink, this.flushed, this.outputBuffer, mode);
    this.clients.add(c);
    if (mode === 'keyframe') {
      const a = this.analyzer;
      const rap = a.lastRapIndex;
      const burst = this.flushed - rap;
      const prefix = rap >= this.ring.tail ? this.prefixAt(rap, false) : undefined;
      if (prefix && burst >= 0 && burst + this.outputBuffer + this.flushPackets < this.ring.capacity) {
        c.cursor = rap;
        c.lagLimit = this.outputBuffer + burst;
        c.prefix = prefix;
        // Saturated: PAT/PMT and the keyframe's first part now, the rest at the live rate.
        this.catchUp(c, this.saturated ? Math.min(this.flushed, rap + this.firstBurstPackets) : this.flushed);
      } else {
        this.waitForKeyframe(c, this.flushed, false, false);
      }
    }
    return c;
  }

  /** The client's sink drained: send what it is missing, up to the last flush point. */
  drained(c: HubClient): void {
    if (c.closed || !c.waiting) return;
    c.waiting = false;
    if (c.waitRap) return;
    // Saturated: the next flush continues it (at the live rate), not this drain.
    if (this.saturated && c.cursor < this.flushed) return;
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
    this.fillerTimer = setInterval(() => {
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
    for (const c of this.clients) this.waitForKeyframe(c, this.ring.head, false, true);
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

  private stopFiller(): void {
    if (this.fillerTimer) { clearInterval(this.fillerTimer); this.fillerTimer = undefined; }
  }

  /** Packets that are not ring data (PAT/PMT prefix, markers, keep-alive) count as sent too. */
  private countSent(c: HubClient, n: number): void {
    c.packetsSent += n;
    this.packetsSent += n;
  }

  private markWaiting(c: HubClient): void {
    c.waiting = true;
    c.waitingSince = Date.now();
  }

  private waitForKeyframe(c: HubClient, from: number, countSkipped: boolean, withDiscontinuity: boolean): void {
    c.waitRap = true;
    c.resumeFrom = from;
    c.cursor = Math.max(c.cursor, Math.min(from, this.flushed));
    c.countSkipped = countSkipped;
    c.withDiscontinuity = withDiscontinuity;
    c.waitRapUntil = Date.now() + this.keyframeWaitMs;
    c.prefix = undefined;
    c.lagLimit = this.outputBuffer;
  }

  /**
   * A client waiting for a keyframe: start it there if one has arrived (true), else skip
   * what came in meanwhile (false). A stream without keyframes (radio, unknown codec)
   * starts live once the wait times out.
   */
  private tryResume(c: HubClient, to: number): boolean {
    const rap = this.analyzer.lastRapIndex;
    const prefix = rap >= c.resumeFrom && rap >= c.cursor ? this.prefixAt(rap, c.withDiscontinuity) : undefined;
    if (prefix) {
      this.skip(c, rap - c.cursor);
      c.cursor = rap;
      c.prefix = prefix;
      c.waitRap = false;
      c.lagLimit = this.outputBuffer + (to - rap);
      return true;
    }
    if (Date.now() > c.waitRapUntil && !c.countSkipped) {
      c.waitRap = false;
      c.cursor = Math.max(c.cursor, c.resumeFrom);
      return true;
    }
    this.skip(c, to - c.cursor);
    c.cursor = to;
    return false;
  }

  private skip(c: HubClient, n: number): void {
    if (n <= 0 || !c.countSkipped) return;
    c.packetsDropped += n;
    this.packetsDropped += n;
  }

  /**
   * A client more than its lag limit behind: live mode drops the oldest data (the
   * original's behaviour); keyframe mode skips to the newest keyframe, or waits for the
   * next one, so the client never decodes from the middle of a GOP.
   */
  private trimLag(c: HubClient): void {
    const head = this.ring.head;
    const lag = head - c.cursor;
    if (lag <= c.lagLimit) return;
    if (c.mode === 'live') {
      const n = lag - c.lagLimit;
      c.cursor += n;
      c.packetsDropped += n;
      this.packetsDropped += n;
      return;
    }
    const rap = this.analyzer.lastRapIndex;
    const prefix = rap > c.cursor && head - rap <= this.outputBuffer ? this.prefixAt(rap, false) : undefined;
    if (prefix) {
      c.packetsDropped += rap - c.cursor;
      this.packetsDropped += rap - c.cursor;
      c.cursor = rap;
      c.prefix = prefix;
      c.lagLimit = this.outputBuffer;
    } else {
      c.packetsDropped += this.flushed - c.cursor;
      this.packetsDropped += this.flushed - c.cursor;
      c.cursor = this.flushed;
      this.waitForKeyframe(c, this.flushed, true, false);
    }
  }

  private catchUp(c: HubClient, to: number): void {
    this.trimLag(c);
    if (c.waitRap) return;
    if (c.prefix) {
      const p = c.prefix;
      c.prefix = undefined;
      this.countSent(c, p.length / TS_PACKET_SIZE);
      if (!c.sink.write(this.framedPrefix(c.sink.framing, p))) { this.markWaiting(c); return; }
    }
    while (c.cursor < to) {
      const end = Math.min(to, c.cursor + this.maxWritePackets);
      const chunk = this.catchUpChunk(c.sink.framing, c.cursor, end);
      c.packetsSent += end - c.cursor;
      this.packetsSent += end - c.cursor;
      c.cursor = end;
      if (!c.sink.write(chunk)) { this.markWaiting(c); return; }
    }
  }

  /**
   * The PAT/PMT prefix (plus discontinuity markers after a switch) for a client starting at
   * keyframe `rap`, with continuity counters that run into the ring from there. Clients
   * starting at the same keyframe get the very same buffer (never modified once made), so
   * a mass zap builds it once, not per client. It is rebuilt when the PAT or PMT changes,
   * and, until the next PAT and PMT packets after `rap` are in the ring (which fixes the
   * counters for good), whenever new data has arrived.
   */
  private prefixAt(rap: number, withDiscontinuity: boolean): Buffer | undefined {
    const a = this.analyzer;
    const k = this.prefixCache;
    if (k && k.rap === rap && k.disc === withDiscontinuity && k.pat === a.patPackets && k.pmt === a.pmtPackets
      && (k.final || k.head === this.ring.head)) return k.buf;
    const built = startPrefix(a, this.ring, rap, this.continuity, withDiscontinuity);
    if (!built) return undefined;
    const { buf, final } = built;
    this.prefixCache = { rap, disc: withDiscontinuity, pat: a.patPackets, pmt: a.pmtPackets, head: this.ring.head, final, buf, chunked: undefined };
    return buf;
  }

  /** A prefix framed for the wire; the cached prefix's chunked copy is made once. */
  private framedPrefix(framing: Framing, p: Buffer): Buffer {
    if (framing === 'raw') return p;
    const k = this.prefixCache;
    if (k && k.buf === p) return (k.chunked ??= framed('chunked', p));
    return framed('chunked', p);
  }

  /**
   * A framed copy of [from, end) for a client catching up. Clients that joined together
   * (keyframe start) walk the same ranges from the same keyframe, so the copies are
   * kept briefly and shared: a thousand clients zapping in at once cost one copy of the
   * GOP, not a thousand.
   */
  private catchUpChunk(framing: Framing, from: number, end: number): Buffer {
    const cache = framing === 'raw' ? this.rawChunks : this.chunkedChunks;
    const hit = cache.get(from);
    if (hit && hit.end === end) return hit.buf;
    const buf = framedFromRing(framing, this.ring, from, end);
    if (cache.size >= CHUNK_CACHE_ENTRIES) {
      const tail = this.ring.tail;
      for (const [k, v] of cache) if (k < tail || v.end <= this.flushed - this.outputBuffer) cache.delete(k);
      if (cache.size >= CHUNK_CACHE_ENTRIES) cache.clear();
    }
    cache.set(from, { end, buf });
    return buf;
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
