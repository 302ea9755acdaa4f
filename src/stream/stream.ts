import type { Logger } from '../log/logger.js';
import { EVT } from '../log/logger.js';
import { FaultSummary } from '../log/faults.js';
import { resourceUpstreams, type Config, type ResourceConfig } from '../config/schema.js';
import { TsAligner } from '../ts/aligner.js';
import { TS_PACKET_SIZE } from '../ts/packet.js';
import { Supervisor } from '../sources/supervisor.js';
import type { SwitchReason } from '../sources/remotes.js';
import { sourceOptions } from '../sources/source.js';
import { systemClock, unrefTimer, type Clock, type TimerHandle } from '../hub/clock.js';
import type { AnalyzerView, EndReason, StreamOutput } from './contracts.js';
import { StreamHealth } from './health.js';

/** Default wait for an on-demand upstream when `timeout` is 0 (none), ms. */
const ONDEMAND_DEFAULT_WAIT_MS = 10_000;
/** How often discarded input is summarised in the log (house rule 3), ms. */
const DISCARD_SUMMARY_MS = 10_000;

/**
 * One stream resource: supervisor (upstream failover) -> aligner -> output (fan-out).
 * Owns the online/offline state seen by the endpoint and the APIs, the failover grace
 * period, and on-demand connection of the upstream; whether the upstream is connected is
 * its supervisor's to say. The output is where the packets go: a StreamHub where the
 * clients are (then the Stream is the endpoint's StreamState), or in a multi-process
 * primary the workers (cluster/mirror.ts). `output` builds it on the Stream's clock, the
 * one its supervisor and timers run on.
 */
export class Stream<O extends StreamOutput = StreamOutput> {
  readonly name: string;
  readonly aligner: TsAligner;
  /** The upstream's health checks (TR 101 290), one checker per connection. */
  readonly health: StreamHealth;
  readonly ondemand: boolean;
  readonly hub: O;
  private supervisor: Supervisor | undefined;
  /** Set by the control API: clients are refused while true. */
  private adminOffline = false;
  /** Summarises discarded input (house rule 3) while an upstream has run. */
  private readonly discards: FaultSummary;
  private discardedAtConnect = 0;
  private readonly graceMs: number;
  private graceTimer: TimerHandle | undefined;
  private lingerTimer: TimerHandle | undefined;
  private readonly lingerMs: number;
  private readonly demandWaitMs: number;
  private waiters: ((ok: boolean) => void)[] = [];
  private viewers = 0;
  private closed = false;
  private readonly log: Logger;
  /** Supervisor counters carried over when an on-demand supervisor is replaced. */
  private pastReconnects = 0;
  private pastBytesIn = 0;

  constructor(
    private readonly res: ResourceConfig,
    private readonly cfg: Config,
    log: Logger,
    output: (clock: Clock) => O,
    private readonly clock: Clock = systemClock,
  ) {
    this.name = res.serve;
    this.log = log.child({ stream: res.serve });
    this.ondemand = res.ondemand;
    this.hub = output(clock);
    this.graceMs = (cfg.grace ?? 3 * cfg.reconnect) * 1000;
    this.lingerMs = res.linger * 1000;
    this.demandWaitMs = cfg.timeout > 0 ? cfg.timeout * 1000 : ONDEMAND_DEFAULT_WAIT_MS;
    const hub = this.hub;
    const health = this.health = new StreamHealth(res.serve, res, this.log, (indicator) => { this.supervisor?.healthAlarm(indicator); });
    // The first packet of a connection establishes it (the supervisor decides) before it
    // reaches the output: one boolean test per run of packets, nothing per packet.
    this.aligner = new TsAligner((buf, off, n) => {
      if (this.supervisor?.connected === false) this.supervisor.delivering();
      health.push(buf, off, n);
      hub.push(buf, off, n);
    }, (packetSize, relock) => { this.onLock(packetSize, relock); }, (lost) => { health.syncBreak(lost); });
    const a = this.aligner;
    this.discards = new FaultSummary(this.log, () => ({ bytes: a.discardedBytes, syncLosses: a.syncLosses, locks: a.locks }), DISCARD_SUMMARY_MS, {
      timers: { setInterval: (fn, ms) => unrefTimer(clock.setInterval(fn, ms)), clearInterval: (t) => { clock.clearInterval(t); } },
      line: (d) => { this.logDiscards(d); },
    });
  }

  get available(): boolean { return this.connected && !this.adminOffline; }
  /** The upstream connection is established (its supervisor decides). */
  get connected(): boolean { return this.supervisor?.connected ?? false; }
  get offline(): boolean { return this.adminOffline; }
  get currentUrl(): string | undefined { return this.supervisor?.currentUrl; }
  get reconnects(): number { return this.pastReconnects + (this.supervisor?.reconnects ?? 0); }
  get bytesIn(): number { return this.pastBytesIn + (this.supervisor?.bytesIn ?? 0); }
  /** Why the upstream in use is on its remote (the last switch); undefined while none delivers. */
  get switchReason(): SwitchReason | undefined { return this.supervisor?.switchReason; }
  get analyzer(): AnalyzerView { return this.hub.analyzer; }
  /** Failover "health" and a priority-1 alarm raised on the remote in use: the check API fails. */
  get unhealthy(): boolean { return this.res.failover === 'health' && this.connected && this.health.priority1; }
  get idleOnDemand(): boolean { return this.ondemand && this.supervisor === undefined; }
  /** Upstream lost, clients kept while it is replaced (the status page's "grace"). */
  get inGrace(): boolean { return this.graceTimer !== undefined; }
  /** Viewers (in a multi-process primary: in all workers). */
  get clientCount(): number { return this.hub.clientCount; }

  /** Control API: offline ends every client and refuses new ones; online allows them again. */
  setOffline(offline: boolean): void {
    if (offline === this.adminOffline) return;
    this.adminOffline = offline;
    this.log.info({ evt: EVT.upstreamInfo, offline }, offline ? 'stream set offline' : 'stream set online');
    if (offline) this.endAll('offline');
    this.publishState();
  }

  start(): void {
    if (!this.ondemand) this.startUpstream();
  }

  /**
   * On-demand: make sure the upstream runs and wait (bounded by `timeout`) until it
   * delivers. Resolves true when the stream can be served.
   */
  demand(): Promise<boolean> {
    if (this.available) return Promise.resolve(true);
    if (this.adminOffline || this.closed || !this.ondemand) return Promise.resolve(false);
    this.cancelLinger();
    this.startUpstream();
    return new Promise<boolean>((resolve) => {
      const t = this.clock.setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
        this.maybeLinger();
      }, this.demandWaitMs);
      const done = (ok: boolean) => { this.clock.clearTimeout(t); resolve(ok); };
      this.waiters.push(done);
    });
  }

  /** The endpoint admitted a viewer / a viewer left (on-demand bookkeeping). */
  viewerJoined(): void { this.viewers++; this.cancelLinger(); }
  viewerLeft(): void { this.viewers = Math.max(0, this.viewers - 1); this.maybeLinger(); }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelLinger();
    this.cancelGrace();
    this.stopUpstream();
    this.discards.stop();
    for (const w of this.waiters.splice(0)) w(false);
    this.hub.close();
  }

  private startUpstream(): void {
    if (this.supervisor || this.closed) return;
    if (this.ondemand) this.log.info({ evt: EVT.upstreamInfo }, 'on-demand upstream starting');
    this.supervisor = new Supervisor({
      stream: this.res.serve,
      remotes: resourceUpstreams(this.res),
      reconnectS: this.cfg.reconnect,
      timeoutS: this.cfg.timeout,
      readTimeoutS: this.cfg.readtimeout,
      inputBufferPackets: this.cfg.inputbuffer,
      options: sourceOptions(this.res),
      log: this.log,
      clock: this.clock,
      ...(this.res.failover === 'health' ? { healthFailover: { alarmTimeS: this.res.alarmtime } } : {}),
      // The checks' time: read once per chunk, never per packet.
      onData: (chunk) => { this.health.chunk(this.clock.now()); this.aligner.push(chunk); },
      packets: () => this.aligner.packets,
      discarded: () => this.aligner.discardedBytes,
      onTransportConnected: (url) => { this.onTransportConnected(url); },
      onConnected: () => { this.onConnected(); },
      onDisconnected: () => { this.onDisconnected(); },
    });
    this.supervisor.start();
    this.discards.start();
  }

  private stopUpstream(): void {
    const s = this.supervisor;
    if (!s) return;
    this.pastReconnects += s.reconnects;
    this.pastBytesIn += s.bytesIn;
    this.supervisor = undefined;
    s.close();
    this.health.end();
    this.publishState();
  }

  /** Tell the workers (multi-process mode) whether the stream can be served. */
  private publishState(): void {
    const out: StreamOutput = this.hub;
    if (out.kind === 'relay') out.state(this.connected, this.adminOffline);
  }

  /** A transport connected: its bytes follow. The stream is not up before its first packet. */
  private onTransportConnected(url: string): void {
    this.aligner.reset();
    this.health.begin(url, this.clock.now());
    this.discardedAtConnect = this.aligner.discardedBytes;
  }

  /**
   * The connection's first aligned packet is about to reach the output: now the stream
   * can be served (404 before: an upstream that connects but sends garbage or nothing is
   * not a stream), and clients riding through a grace period resume.
   */
  private onConnected(): void {
    if (this.closed) return;
    if (this.cancelGrace()) {
      // Clients rode through the gap: they resume at the new upstream's first keyframe.
      this.hub.upstreamResumed();
    }
    this.publishState();
    for (const w of this.waiters.splice(0)) w(true);
  }

  private onLock(packetSize: number, relock: boolean): void {
    if (relock) return; // re-locks after garbage are summarised with the discards
    this.log.info({ evt: EVT.upstreamInfo, packetSize, discarded: this.aligner.discardedBytes - this.discardedAtConnect },
      packetSize === TS_PACKET_SIZE ? 'upstream locked: 188-byte packets' : `upstream locked: ${packetSize}-byte packets, converted to 188`);
  }

  /** Discarded input since the last summary, one line per interval (house rule 3). */
  private logDiscards(d: Record<string, number>): void {
    const bytes = d.bytes ?? 0;
    const syncLosses = d.syncLosses ?? 0;
    if (bytes === 0 && syncLosses === 0) return; // a lock alone (a new connection) is no fault
    const a = this.aligner;
    this.log.warn({ evt: EVT.alignerDiscard, discarded: bytes, syncLosses, locks: d.locks ?? 0, totalDiscarded: a.discardedBytes, locked: a.isLocked },
      'input discarded: not aligned MPEG-TS (garbage, or packets cut short)');
  }

  private onDisconnected(): void {
    this.publishState();
    this.aligner.flushEnd();
    this.health.end();
    this.hub.flush();
    const clients = this.clientCount;
    if (this.graceMs > 0 && clients > 0 && !this.closed) {
      this.log.info({ evt: EVT.upstreamInfo, graceMs: this.graceMs, clients }, 'upstream lost: keeping clients during grace period');
      this.hub.upstreamLost();
      this.cancelGrace();
      this.graceTimer = this.clock.setTimeout(() => {
        this.graceTimer = undefined;
        this.log.info({ evt: EVT.upstreamInfo }, 'grace period over: ending clients');
        this.endAll('upstream_lost');
      }, this.graceMs);
    } else {
      // The original's behaviour: losing the upstream ends every client's response.
      this.endAll('upstream_lost');
    }
  }

  private endAll(reason: EndReason): void {
    this.hub.endAll(reason);
  }

  /** Ends a grace period; true if one was running. */
  private cancelGrace(): boolean {
    if (this.graceTimer === undefined) return false;
    this.clock.clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    return true;
  }

  private maybeLinger(): void {
    if (!this.ondemand || this.viewers > 0 || this.waiters.length > 0 || !this.supervisor || this.lingerTimer !== undefined) return;
    this.lingerTimer = this.clock.setTimeout(() => {
      this.lingerTimer = undefined;
      if (this.viewers > 0 || this.waiters.length > 0) return;
      this.log.info({ evt: EVT.upstreamInfo }, 'on-demand upstream stopped: no viewers');
      this.stopUpstream();
      // Ends nobody (no one watches) but ends the upstream session in the hubs here and in
      // the workers, so the next start splices cleanly (fresh PAT/PMT, keyframe, markers).
      this.endAll('upstream_lost');
    }, this.lingerMs);
  }

  private cancelLinger(): void {
    if (this.lingerTimer !== undefined) { this.clock.clearTimeout(this.lingerTimer); this.lingerTimer = undefined; }
  }
}
