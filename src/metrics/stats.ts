import { TS_PACKET_SIZE } from '../ts/packet.js';
import type { AnalyzerView } from '../stream/contracts.js';
import type { StreamView } from '../stream/contracts.js';
import type { Indicator } from '../ts/alarms.js';

// StreamView lives with the other stream contracts; named here too for the tests' imports.
export type { StreamView };

// The statistics aggregator behind the health and statistics APIs and the bitrate gauges.
// The hot path only bumps plain counters (hub, aligner, supervisor); this module reads
// them when asked. Rates come from a small ring of samples taken once per second by one
// timer for the whole instance, so a rate is "per second over the last few seconds".

export interface RateSamplerOptions {
  /** Time between samples, ms (default 1000). */
  intervalMs?: number;
  /** Samples kept; a rate spans up to this many intervals (default 5). */
  samples?: number;
  /** Clock in ms (tests inject one). */
  now?: () => number;
}

/** Handle of one tracked counter. */
export type RateId = number;

/**
 * Per-second rates of monotonic counters. The rate is measured from the oldest kept
 * sample to the counter's value right now, so it is current yet smoothed over a few
 * seconds. Memory is fixed per tracked counter; sampling allocates nothing.
 */
export class RateSampler {
  private readonly intervalMs: number;
  private readonly size: number;
  private readonly now: () => number;
  private readonly reads: (() => number)[] = [];
  private readonly values: Float64Array[] = [];
  private readonly times: Float64Array;
  /** Slot the next sample goes to; samples taken so far (capped at size). */
  private head = 0;
  private filled = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(o: RateSamplerOptions = {}) {
    this.intervalMs = o.intervalMs ?? 1000;
    this.size = Math.max(2, o.samples ?? 5);
    this.now = o.now ?? (() => performance.now());
    this.times = new Float64Array(this.size);
  }

  /** Track a counter; its rate reads 0 until a sample older than ~0.2 s exists. */
  track(read: () => number): RateId {
    const ring = new Float64Array(this.size);
    // Back-fill with the current value: a counter tracked late shows no burst of "history".
    ring.fill(read());
    this.reads.push(read);
    this.values.push(ring);
    return this.reads.length - 1;
  }

  /** Take one sample of every counter (the timer calls this; tests may too). */
  sample(): void {
    const t = this.now();
    this.times[this.head] = t;
    for (let i = 0; i < this.reads.length; i++) this.values[i]![this.head] = this.reads[i]!();
    this.head = (this.head + 1) % this.size;
    if (this.filled < this.size) this.filled++;
  }

  /** Units per second of counter `id` over the kept window; 0 before the first useful sample. */
  perSecond(id: RateId): number {
    if (this.filled === 0) return 0;
    const oldest = this.filled < this.size ? 0 : this.head;
    const dt = (this.now() - this.times[oldest]!) / 1000;
    if (dt < 0.2) return 0;
    const delta = this.reads[id]!() - this.values[id]![oldest]!;
    return delta > 0 ? delta / dt : 0;
  }

  /** Sample now and then every interval; the timer never keeps the process alive. Idempotent. */
  start(): void {
    if (this.timer || this.closed) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  /** Stop sampling. Idempotent. */
  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Global numbers in the shape of the original statistics collector. */
export interface GlobalStats {
  connections: number;
  maxConnections: number;
  fullConnections: number;
  packetsReceived: number;
  packetsSent: number;
  packetsDropped: number;
  /** Summed client streaming time, ns (finished and running clients). */
  streamTimeNs: number;
  packetsPerSecondReceived: number;
  packetsPerSecondSent: number;
  packetsPerSecondDropped: number;
}

/** One stream's numbers (our addition to the statistics API). */
export interface StreamStats {
  url: string | null;
  connected: boolean;
  offline: boolean;
  clients: number;
  packetsReceived: number;
  packetsSent: number;
  packetsDropped: number;
  /** Raw bytes read from the upstream, before alignment. */
  bytesRead: number;
  discardedBytes: number;
  /** Input packet size (188, 192 or 204; 0 before the first lock). */
  packetSize: number;
  reconnects: number;
  packetsPerSecondReceived: number;
  packetsPerSecondSent: number;
  packetsPerSecondDropped: number;
  /** Bits per second of TS packets received / sent (all clients together). */
  bitrateIn: number;
  bitrateOut: number;
  analyzer: AnalyzerView | undefined;
  /** Health checks: the indicators raised now, and errors per indicator (docs/health.md); absent where no checks run. */
  alarms: readonly Indicator[] | undefined;
  tr101290Errors: Record<Indicator, number> | undefined;
}

export interface StatsCollectorOptions {
  streams: readonly StreamView[];
  /** Client connections across all streams (the admission counter). */
  connections: () => number;
  maxConnections: number;
  fullConnections: number;
  /** false (`nostats`): no sampler runs and every statistic reads zero. */
  enabled: boolean;
  /** Shown instead of a URL (e.g. to hide passwords). */
  redact?: (url: string) => string;
  sampler?: RateSamplerOptions;
}

interface Tracked {
  view: StreamView;
  inId: RateId;
  sentId: RateId;
  droppedId: RateId;
}

const ZERO_GLOBAL: Readonly<GlobalStats> = Object.freeze({
  connections: 0, maxConnections: 0, fullConnections: 0, packetsReceived: 0, packetsSent: 0, packetsDropped: 0,
  streamTimeNs: 0, packetsPerSecondReceived: 0, packetsPerSecondSent: 0, packetsPerSecondDropped: 0,
});

/**
 * Aggregates every stream's plain counters into the statistics and health figures.
 * Nothing is computed until someone asks (an API request or a scrape).
 */
export class StatsCollector {
  readonly enabled: boolean;
  private readonly o: StatsCollectorOptions;
  private readonly sampler: RateSampler | undefined;
  private readonly tracked = new Map<string, Tracked>();

  constructor(o: StatsCollectorOptions) {
    this.o = o;
    this.enabled = o.enabled;
    if (!o.enabled) return;
    const s = new RateSampler(o.sampler);
    this.sampler = s;
    for (const v of o.streams) {
      this.tracked.set(v.name, {
        view: v,
        inId: s.track(() => v.hub.packetsIn),
        sentId: s.track(() => v.hub.packetsSent),
        droppedId: s.track(() => v.hub.packetsDropped),
      });
    }
  }

  start(): void { this.sampler?.start(); }
  close(): void { this.sampler?.close(); }

  /** Totals and rates over all streams; all zero when disabled (as the original's dummy collector). */
  global(): GlobalStats {
    if (!this.sampler) return { ...ZERO_GLOBAL };
    const g: GlobalStats = {
      ...ZERO_GLOBAL,
      connections: this.o.connections(),
      maxConnections: this.o.maxConnections,
      fullConnections: this.o.fullConnections,
    };
    const now = Date.now();
    for (const t of this.tracked.values()) {
      const h = t.view.hub;
      g.packetsReceived += h.packetsIn;
      g.packetsSent += h.packetsSent;
      g.packetsDropped += h.packetsDropped;
      g.streamTimeNs += h.clientMs(now) * 1e6;
      g.packetsPerSecondReceived += Math.floor(this.sampler.perSecond(t.inId));
      g.packetsPerSecondSent += Math.floor(this.sampler.perSecond(t.sentId));
      g.packetsPerSecondDropped += Math.floor(this.sampler.perSecond(t.droppedId));
    }
    return g;
  }

  /** Bytes per second sent to clients, all streams (health `bandwidth`); 0 when disabled. */
  bytesPerSecondSent(): number {
    if (!this.sampler) return 0;
    let pps = 0;
    for (const t of this.tracked.values()) pps += Math.floor(this.sampler.perSecond(t.sentId));
    return pps * TS_PACKET_SIZE;
  }

  /** One stream's figures; undefined for an unknown name or when disabled. */
  stream(name: string): StreamStats | undefined {
    const t = this.tracked.get(name);
    if (!t || !this.sampler) return undefined;
    const v = t.view;
    const url = v.currentUrl;
    const ppsIn = this.sampler.perSecond(t.inId);
    const ppsOut = this.sampler.perSecond(t.sentId);
    return {
      url: url === undefined ? null : (this.o.redact ? this.o.redact(url) : url),
      connected: v.connected,
      offline: v.offline,
      clients: v.hub.clientCount,
      packetsReceived: v.hub.packetsIn,
      packetsSent: v.hub.packetsSent,
      packetsDropped: v.hub.packetsDropped,
      bytesRead: v.bytesIn,
      discardedBytes: v.aligner.discardedBytes,
      packetSize: v.aligner.packetSize ?? 0,
      reconnects: v.reconnects,
      packetsPerSecondReceived: Math.floor(ppsIn),
      packetsPerSecondSent: Math.floor(ppsOut),
      packetsPerSecondDropped: Math.floor(this.sampler.perSecond(t.droppedId)),
      bitrateIn: Math.round(ppsIn * TS_PACKET_SIZE * 8),
      bitrateOut: Math.round(ppsOut * TS_PACKET_SIZE * 8),
      analyzer: v.analyzer,
      alarms: v.health?.alarms,
      tr101290Errors: v.health?.counts(),
    };
  }

  /** Names of the streams tracked, in configuration order. */
  names(): string[] { return [...this.tracked.keys()]; }
}

/**
 * Responses by HTTP status for one resource (stream requests: 200, 401, 403, 404...).
 * Counted when a response finishes; read by the Prometheus scrape.
 */
export interface ResponseCounter {
  add(status: number): void;
  entries(): IterableIterator<[number, number]>;
}

/** A ResponseCounter of this process's own responses. */
export class StatusCounts implements ResponseCounter {
  private readonly counts = new Map<number, number>();
  add(status: number): void { this.counts.set(status, (this.counts.get(status) ?? 0) + 1); }
  entries(): IterableIterator<[number, number]> { return this.counts.entries(); }
}
