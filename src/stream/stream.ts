import type { Logger } from '../log/logger.js';
import { EVT } from '../log/logger.js';
import type { Config, ResourceConfig } from '../config/schema.js';
import { TsAligner } from '../ts/aligner.js';
import { TS_PACKET_SIZE } from '../ts/packet.js';
import type { StreamAnalyzer } from '../ts/analyzer.js';
import { Supervisor } from '../sources/supervisor.js';
import { sourceOptions } from '../sources/source.js';
import type { StreamOutput } from './contracts.js';
import type { EndReason } from '../hub/hub.js';

/** Default wait for an on-demand upstream when `timeout` is 0 (none), ms. */
const ONDEMAND_DEFAULT_WAIT_MS = 10_000;
/** How often discarded input is summarised in the log (house rule 3), ms. */
const DISCARD_SUMMARY_MS = 10_000;

/**
 * One stream resource: supervisor (upstream failover) -> aligner -> hub (fan-out).
 * Owns the online/offline state seen by the endpoint and the APIs, the failover grace
 * period, and on-demand connection of the upstream. `hub` is where the packets go: a
 * StreamHub where the clients are (then the Stream is the endpoint's StreamState), or in
 * a multi-process primary the workers (cluster/mirror.ts).
 */
export class Stream<O extends StreamOutput = StreamOutput> {
  readonly name: string;
  readonly aligner: TsAligner;
  readonly ondemand: boolean;
  private supervisor: Supervisor | undefined;
  /** Set by the control API: clients are refused while true. */
  private adminOffline = false;
  /** The current upstream has delivered an aligned packet: the stream can be served. */
  private upstreamUp = false;
  /** A transport is connected and its packets may flow (between onConnected and the end). */
  private attemptLive = false;
  private discardTimer: NodeJS.Timeout | undefined;
  private discardLogged = { bytes: 0, syncLosses: 0, locks: 0 };
  private discardedAtConnect = 0;
  private readonly graceMs: number;
  private graceTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private readonly lingerMs: number;
  private readonly demandWaitMs: number;
  private waiters: ((ok: boolean) => void)[] = [];
  private viewers = 0;
  private closed = false;
  private readonly log: Logger;
  /** Supervisor counters carried over when an on-demand supervisor is replaced. */
  private pastReconnects = 0;
  private pastBytesIn = 0;

  constructor(private readonly res: ResourceConfig, private readonly cfg: Config, log: Logger, readonly hub: O) {
    this.name = res.serve;
    this.log = log.child({ stream: res.serve });
    this.ondemand = res.ondemand;
    this.graceMs = (cfg.grace ?? 3 * cfg.reconnect) * 1000;
    this.lingerMs = res.linger * 1000;
    this.demandWaitMs = cfg.timeout > 0 ? cfg.timeout * 1000 : ONDEMAND_DEFAULT_WAIT_MS;
    // The first packet of a connection makes the stream available: one boolean test per
    // run of packets, nothing per packet.
    this.aligner = new TsAligner((buf, off, n) => { if (!this.upstreamUp) this.onDelivering(); hub.push(buf, off, n); },
      (packetSize, relock) => this.onLock(packetSize, relock));
  }

  get available(): boolean { return this.upstreamUp && !this.adminOffline; }
  get connected(): boolean { return this.upstreamUp; }
  get offline(): boolean { return this.adminOffline; }
  get currentUrl(): string | undefined { return this.supervisor?.currentUrl; }
  get reconnects(): number { return this.pastReconnects + (this.supervisor?.reconnects ?? 0); }
  get bytesIn(): number { return this.pastBytesIn + (this.supervisor?.bytesIn ?? 0); }
  get analyzer(): StreamAnalyzer { return this.hub.analyzer; }
  get idleOnDemand(): boolean { return this.ondemand && this.supervisor === undefined; }
  /** Upstream lost, clients kept while it is replaced (the status page's "grace"). */
  get inGrace(): boolean { return this.graceTimer !== undefined; }

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
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
        this.maybeLinger();
      }, this.demandWaitMs);
      const done = (ok: boolean) => { clearTimeout(t); resolve(ok); };
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
    if (this.graceTimer) clearTimeout(this.graceTimer);
    if (this.discardTimer) clearInterval(this.discardTimer);
    this.discardTimer = undefined;
    this.stopUpstream();
    this.reportDiscards();
    for (const w of this.waiters.splice(0)) w(false);
    this.hub.close();
  }

  private startUpstream(): void {
    if (this.supervisor || this.closed) return;
    const remotes = [...(this.res.remote ? [this.res.remote] : []), ...this.res.remotes];
    if (this.ondemand) this.log.info({ evt: EVT.upstreamInfo }, 'on-demand upstream starting');
    this.supervisor = new Supervisor({
      stream: this.res.serve,
      remotes,
      reconnectS: this.cfg.reconnect,
      timeoutS: this.cfg.timeout,
      readTimeoutS: this.cfg.readtimeout,
      inputBufferPackets: this.cfg.inputbuffer,
      options: sourceOptions(this.res),
      log: this.log,
      onData: (chunk) => this.aligner.push(chunk),
      packets: () => this.aligner.packets,
      discarded: () => this.aligner.discardedBytes,
      onConnected: () => this.onConnected(),
      onDisconnected: () => this.onDisconnected(),
    });
    this.supervisor.start();
    if (!this.discardTimer) {
      this.discardTimer = setInterval(() => this.reportDiscards(), DISCARD_SUMMARY_MS);
      this.discardTimer.unref();
    }
  }

  private stopUpstream(): void {
    const s = this.supervisor;
    if (!s) return;
    this.pastReconnects += s.reconnects;
    this.pastBytesIn += s.bytesIn;
    this.supervisor = undefined;
    s.close();
    this.upstreamUp = false;
    this.attemptLive = false;
    this.publishState();
  }

  /** Tell the workers (multi-process mode) whether the stream can be served. */
  private publishState(): void {
    this.hub.state?.(this.upstreamUp, this.adminOffline);
  }

  /** A transport connected: its bytes follow. The stream is not up before its first packet. */
  private onConnected(): void {
    this.aligner.reset();
    this.attemptLive = true;
    this.discardedAtConnect = this.aligner.discardedBytes;
  }

  /**
   * The connection's first aligned packet is about to reach the hub: now the stream can
   * be served (404 before: an upstream that connects but sends garbage or nothing is not
   * a stream), and clients riding through a grace period resume.
   */
  private onDelivering(): void {
    if (!this.attemptLive || this.closed) return;
    if (this.graceTimer) {
      // Clients rode through the gap: they resume at the new upstream's first keyframe.
      clearTimeout(this.graceTimer);
      this.graceTimer = undefined;
      this.hub.upstreamResumed();
    }
    this.upstreamUp = true;
    this.publishState();
    for (const w of this.waiters.splice(0)) w(true);
  }

  private onLock(packetSize: number, relock: boolean): void {
    if (relock) return; // re-locks after garbage are summarised by reportDiscards()
    this.log.info({ evt: EVT.upstreamInfo, packetSize, discarded: this.aligner.discardedBytes - this.discardedAtConnect },
      packetSize === TS_PACKET_SIZE ? 'upstream locked: 188-byte packets' : `upstream locked: ${packetSize}-byte packets, converted to 188`);
  }

  /** Discarded input since the last summary, one line per interval (house rule 3). */
  private reportDiscards(): void {
    const a = this.aligner;
    const d = { bytes: a.discardedBytes - this.discardLogged.bytes, syncLosses: a.syncLosses - this.discardLogged.syncLosses, locks: a.locks - this.discardLogged.locks };
    this.discardLogged = { bytes: a.discardedBytes, syncLosses: a.syncLosses, locks: a.locks };
    if (d.bytes === 0 && d.syncLosses === 0) return;
    this.log.warn({ evt: EVT.alignerDiscard, discarded: d.bytes, syncLosses: d.syncLosses, locks: d.locks, totalDiscarded: a.discardedBytes, locked: a.isLocked },
      'input discarded: not aligned MPEG-TS (garbage, or packets cut short)');
  }

  private onDisconnected(): void {
    this.upstreamUp = false;
    this.attemptLive = false;
    this.publishState();
    this.aligner.flushEnd();
    this.hub.flush();
    const clients = this.clientCount;
    if (this.graceMs > 0 && clients > 0 && !this.closed) {
      this.log.info({ evt: EVT.upstreamInfo, graceMs: this.graceMs, clients }, 'upstream lost: keeping clients during grace period');
      this.hub.upstreamLost();
      if (this.graceTimer) clearTimeout(this.graceTimer);
      this.graceTimer = setTimeout(() => {
        this.graceTimer = undefined;
        this.log.info({ evt: EVT.upstreamInfo }, 'grace period over: ending clients');
        this.endAll('upstream_lost');
      }, this.graceMs);
    } else {
      // The original's behaviour: losing the upstream ends every client's response.
      this.endAll('upstream_lost');
    }
  }

  /** Viewers (in a multi-process primary: in all workers). */
  get clientCount(): number { return this.hub.clientCount; }

  private endAll(reason: EndReason): void {
    this.hub.endAll(reason);
  }

  private maybeLinger(): void {
    if (!this.ondemand || this.viewers > 0 || this.waiters.length > 0 || !this.supervisor || this.lingerTimer) return;
    this.lingerTimer = setTimeout(() => {
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
    if (this.lingerTimer) { clearTimeout(this.lingerTimer); this.lingerTimer = undefined; }
  }
}
