import type { AdmittedClient } from '../http/stream.js';
import { describeAnalysis } from '../metrics/analysis.js';
import type { StatsCollector } from '../metrics/stats.js';
import type { HubOutput, RelayOutput, StreamView } from '../stream/contracts.js';
import { systemClock, unrefTimer, type Clock, type TimerHandle } from '../hub/clock.js';
import { TS_PACKET_SIZE } from '../ts/packet.js';
import type { SwitchReason } from '../sources/remotes.js';
import type { ClientStatus, StatusSnapshot, StatusSource, StreamStateName, StreamStatus, UpstreamReason } from './types.js';

// The status page's data in this process: read from the counters the hub, the supervisor
// and the statistics collector already keep, when a snapshot is asked for (at most a few
// times a second for all viewers of the page together). Nothing here runs per packet.

/** Clients listed per stream in a snapshot; the count is always complete. */
const MAX_CLIENTS_LISTED = 200;
/** Sparkline: one sample every HISTORY_INTERVAL_S, HISTORY_SAMPLES kept (5 minutes). */
const HISTORY_INTERVAL_S = 2;
const HISTORY_SAMPLES = 150;

/** What the page needs of a stream beyond its counters (src/stream/stream.ts Stream satisfies it). */
export interface StatusStreamControl {
  readonly name: string;
  readonly ondemand: boolean;
  readonly offline: boolean;
  readonly connected: boolean;
  readonly idleOnDemand: boolean;
  readonly inGrace: boolean;
  /** Why the upstream in use is on its remote (src/sources/remotes.ts); undefined while none delivers. */
  readonly switchReason?: SwitchReason | undefined;
  /** Viewers (in multi-process mode: in all workers). */
  readonly clientCount: number;
  /** Its output: a hub where the clients are (single process), whose ring's head their lag is measured from. */
  readonly hub: Pick<HubOutput, 'kind' | 'ring'> | Pick<RelayOutput, 'kind'>;
  setOffline(offline: boolean): void;
}

export interface LocalStatusStream {
  control: StatusStreamControl;
  /** Counters as the statistics API reads them (aggregated over workers in multi-process mode). */
  view: StreamView;
  displayName: string | undefined;
}

/**
 * Clients admitted by the stream endpoints, by id, in connection order. Told of each
 * connect and disconnect (StreamEndpointOptions.onClient); nothing per packet.
 */
export class ClientRegistry {
  private seq = 0;
  private readonly all = new Map<string, AdmittedClient>();
  private readonly byStream = new Map<string, Map<string, AdmittedClient>>();

  readonly add = (c: AdmittedClient): (() => void) => {
    const id = `c${++this.seq}`;
    this.all.set(id, c);
    let m = this.byStream.get(c.stream);
    if (!m) this.byStream.set(c.stream, (m = new Map<string, AdmittedClient>()));
    const mine = m;
    mine.set(id, c);
    return () => { this.all.delete(id); mine.delete(id); };
  };

  get(id: string): AdmittedClient | undefined { return this.all.get(id); }

  /** The first `limit` clients of a stream, oldest first. */
  *of(stream: string, limit: number): Generator<[string, AdmittedClient]> {
    const m = this.byStream.get(stream);
    if (!m) return;
    let n = 0;
    for (const e of m) {
      if (n++ >= limit) return;
      yield e;
    }
  }
}

class History {
  readonly in = new Float64Array(HISTORY_SAMPLES);
  readonly out = new Float64Array(HISTORY_SAMPLES);
  private head = 0;
  private filled = 0;

  add(bin: number, bout: number): void {
    this.in[this.head] = bin;
    this.out[this.head] = bout;
    this.head = (this.head + 1) % HISTORY_SAMPLES;
    if (this.filled < HISTORY_SAMPLES) this.filled++;
  }

  /** Oldest first. */
  series(which: Float64Array): number[] {
    const r: number[] = new Array<number>(this.filled);
    const start = (this.head - this.filled + HISTORY_SAMPLES) % HISTORY_SAMPLES;
    for (let i = 0; i < this.filled; i++) r[i] = Math.round(which[(start + i) % HISTORY_SAMPLES]!);
    return r;
  }
}

export interface LocalStatusSourceOptions {
  streams: readonly LocalStatusStream[];
  stats: StatsCollector;
  connections: () => number;
  maxConnections: number;
  fullConnections: number;
  /** Shown instead of an upstream URL (hides passwords). */
  redact: (url: string) => string;
  /** Per-client rows; undefined where this process has no clients (multi-process primary). */
  clients: ClientRegistry | undefined;
  /** Time and the sampling timer (default the real clock). */
  clock?: Clock;
}

/** StatusSource of one process (single mode), or of the primary (per-stream figures only). */
export class LocalStatusSource implements StatusSource {
  private readonly byPath = new Map<string, LocalStatusStream>();
  private readonly history = new Map<string, History>();
  private timer: TimerHandle | undefined;
  private readonly clock: Clock;

  constructor(private readonly o: LocalStatusSourceOptions) {
    this.clock = o.clock ?? systemClock;
    for (const s of o.streams) {
      this.byPath.set(s.control.name, s);
      this.history.set(s.control.name, new History());
    }
  }

  get clientDetails(): boolean { return this.o.clients !== undefined; }

  /** Sample the bitrates for the sparklines from now on (one timer for all streams). Idempotent. */
  start(): void {
    if (this.timer !== undefined || !this.o.stats.enabled) return;
    this.sample();
    this.timer = unrefTimer(this.clock.setInterval(() => { this.sample(); }, HISTORY_INTERVAL_S * 1000));
  }

  close(): void {
    if (this.timer !== undefined) this.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  private sample(): void {
    for (const [path, h] of this.history) {
      const st = this.o.stats.stream(path);
      h.add(st?.bitrateIn ?? 0, st?.bitrateOut ?? 0);
    }
  }

  snapshot(): Promise<StatusSnapshot> {
    const now = this.clock.now();
    const streams: StreamStatus[] = [];
    for (const s of this.o.streams) streams.push(this.streamStatus(s, now));
    return Promise.resolve({
      time: now,
      connections: this.o.connections(),
      maxConnections: this.o.maxConnections,
      fullConnections: this.o.fullConnections,
      stats: this.o.stats.enabled,
      historyIntervalS: HISTORY_INTERVAL_S,
      clientDetails: this.clientDetails,
      streams,
    });
  }

  endClient(id: string): Promise<boolean> {
    const c = this.o.clients?.get(id);
    if (!c) return Promise.resolve(false);
    c.end();
    return Promise.resolve(true);
  }

  setOffline(path: string, offline: boolean): Promise<boolean> {
    const s = this.byPath.get(path);
    if (!s) return Promise.resolve(false);
    s.control.setOffline(offline);
    return Promise.resolve(true);
  }

  private streamStatus(s: LocalStatusStream, now: number): StreamStatus {
    const c = s.control;
    const v = s.view;
    const st = this.o.stats.stream(c.name);
    const h = this.history.get(c.name)!;
    const url = v.currentUrl;
    const clientList: ClientStatus[] = [];
    if (this.o.clients) {
      const head = c.hub.kind === 'hub' ? c.hub.ring.head : 0;
      for (const [id, a] of this.o.clients.of(c.name, MAX_CLIENTS_LISTED)) {
        const hc = a.client;
        clientList.push({
          id,
          address: a.remote ?? null,
          userAgent: a.userAgent ?? null,
          user: a.user ?? null,
          durationMs: Math.max(0, now - hc.connectedAt),
          bytes: hc.packetsSent * TS_PACKET_SIZE,
          packetsDropped: hc.packetsDropped,
          lagPackets: Math.max(0, head - hc.cursor),
        });
      }
    }
    return {
      path: c.name,
      name: s.displayName || c.name,
      upstream: url === undefined ? null : this.o.redact(url),
      state: stateOf(c),
      ondemand: c.ondemand,
      clients: c.clientCount,
      bitrateIn: st?.bitrateIn ?? 0,
      bitrateOut: st?.bitrateOut ?? 0,
      packetsReceived: v.hub.packetsIn,
      packetsSent: v.hub.packetsSent,
      packetsDropped: v.hub.packetsDropped,
      reconnects: v.reconnects,
      historyIn: h.series(h.in),
      historyOut: h.series(h.out),
      analysis: v.analyzer ? describeAnalysis(v.analyzer, now) : null,
      // A dozen indicators per stream per snapshot: read from the checker's counters, nothing per packet.
      alarms: v.health ? [...v.health.alarms] : [],
      healthErrors: v.health ? v.health.counts() : null,
      upstreamReason: c.switchReason ? upstreamReason(c.switchReason, url, this.o.redact) : null,
      clientList,
    };
  }
}

/** A SwitchReason for the page: redacted, and in a sentence. */
function upstreamReason(r: SwitchReason, current: string | undefined, redact: (url: string) => string): UpstreamReason {
  const from = r.from === undefined ? null : redact(r.from);
  const detail = r.detail ?? 'ended';
  const attempts = (n: number) => `${n} failed attempt${n === 1 ? '' : 's'}`;
  const since = r.failed > 0 ? `; ${attempts(r.failed)} since` : '';
  let text: string;
  switch (r.kind) {
    case 'start': text = 'the first remote tried'; break;
    case 'failed': text = `the remotes tried before failed (${attempts(r.failed)}; last: ${from ?? '?'}: ${detail})`; break;
    case 'lost': text = r.from === current ? `reconnected: the connection was lost (${detail})${since}` : `failover: ${from ?? '?'} was lost (${detail})${since}`; break;
    case 'health': text = `health failover from ${from ?? '?'}: ${detail.replace(/^UPSTREAM_UNHEALTHY: /, '')}${since}`; break;
  }
  return { ...r, from, text };
}

function stateOf(c: Pick<StatusStreamControl, 'offline' | 'connected' | 'idleOnDemand' | 'inGrace'>): StreamStateName {
  if (c.offline) return 'offline';
  if (c.connected) return 'connected';
  if (c.inGrace) return 'grace';
  if (c.idleOnDemand) return 'idle';
  return 'connecting';
}
