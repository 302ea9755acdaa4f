import { RestreamerError, errorText, fromSystemError } from '../errors.js';
import { EVT, type Logger } from '../log/logger.js';
import { systemClock, type Clock, type TimerHandle } from '../hub/clock.js';
import type { Indicator } from '../ts/alarms.js';
import { findSourceKind } from './registry.js';
import { HealthPolicy } from './health-policy.js';
import { LockWatch } from './lock-watch.js';
import { fisherYates, remoteOf, SwitchReasons, type Attempt, type Remote, type SwitchReason } from './remotes.js';
import type { DataSink, SourceContext, SourceKind, SourceOptions, Upstream, UpstreamEnd } from './source.js';

// One supervisor per stream: picks an upstream, enforces the connect and read timeouts,
// and decides when to try again.
//
// Retry rule. The Go original keeps a deadline: every attempt starts no earlier than
// `reconnect` seconds after the previous attempt started, so a connection that lasted
// longer than `reconnect` is retried at once and a short one waits out the rest. It
// applies the same spacing between remotes, so one dead remote delays failover by a full
// `reconnect`. We keep the deadline but measure it per round: within a round a failed
// connect moves on to the next remote immediately (failover is the point of several
// remotes); after a full round of failures the next round starts `reconnect` after the
// previous round started; after an established connection ends, the next attempt starts
// `reconnect` after that connection's attempt started (at once if it lasted longer).
// `reconnect` 0: the first round is still tried through, then after a failed round or a
// lost connection the stream stays offline (the original tried only one remote).
//
// Connected. A connection counts as established (`connected`, onConnected) once it has
// delivered an aligned packet (`packets` grew, or the owner said so first: delivering()),
// not when its transport connects: an upstream that sends garbage, or nothing, is a failed
// attempt (logged with the bytes it sent, next remote at once). This is the one place that
// decides it; the Stream asks. Bounds (lock-watch.ts): 64 KiB discarded without an aligned
// packet fail at once; `readtimeout` when set (no aligned packet for that long, before or
// after the first, closes it); with `readtimeout` 0, bytes without an aligned packet for
// the lock time (5 s) fail, and silence is waited out as the original did.
// Datagram kinds connect at their first datagram; until then `readtimeout` bounds the wait
// too (a silent multicast group is left and joined again).
//
// Health failover (`"failover": "health"`, health-policy.ts): remotes in listed order; a
// failover alarm held for `alarmtime` ends the run as a lost connection (grace splice),
// and the next healthy remote is tried at once.

export interface SupervisorOptions {
  stream: string;
  /** Already merged: remote first, then remotes. */
  remotes: string[];
  reconnectS: number;
  /** Bounds open() -> connected (connect, TLS, response headers); 0 = none. */
  timeoutS: number;
  /** Close a connected upstream that sends nothing for this long; 0 = never. */
  readTimeoutS: number;
  inputBufferPackets: number;
  options: SourceOptions;
  log: Logger;
  onData: DataSink;
  /**
   * Aligned packets delivered so far (monotonic), read after each chunk and by the
   * timers. Without it the first byte counts as delivery (a consumer that does not align).
   */
  packets?: () => number;
  /** Bytes discarded by the aligner so far (monotonic), for the failure log line. */
  discarded?: () => number;
  /** The transport connected: its bytes follow (reset per-connection state here). */
  onTransportConnected?(url: string): void;
  /** The connection delivered its first aligned packet: `connected` is now true. */
  onConnected(url: string): void;
  /** After a connection that was connected; not called for close(). */
  onDisconnected(url: string, reason: RestreamerError | undefined): void;
  /** The order remotes are tried in; default a random one (Fisher-Yates), once. */
  shuffle?: (urls: string[]) => string[];
  /** Scheme lookup; default the registry of upstream kinds. */
  findKind?: (scheme: string) => SourceKind | undefined;
  /** Time and timers (default the real ones); the Stream passes its own. */
  clock?: Clock;
  /** `"failover": "health"`: switch remotes on a failover trigger held this long (remotes in listed order). */
  healthFailover?: { alarmTimeS: number };
}

export class Supervisor {
  private readonly o: SupervisorOptions;
  private readonly remotes: Remote[];
  private readonly clock: Clock;
  private next = 0;
  private current: Attempt | undefined;
  private started = false;
  private closed = false;
  private isConnected = false;
  private attempts = 0;
  private roundFailures = 0;
  private roundStartedAt = 0;
  private retryTimer: TimerHandle | undefined;
  private connectTimer: TimerHandle | undefined;
  private readonly watch: LockWatch;
  private readonly reasons = new SwitchReasons();
  private sinkErrors = 0;
  private _reconnects = 0;
  private _bytesIn = 0;
  private readonly policy: HealthPolicy | undefined;

  constructor(o: SupervisorOptions) {
    this.o = o;
    this.clock = o.clock ?? systemClock;
    const find = o.findKind ?? findSourceKind;
    const order = o.healthFailover ? (u: string[]) => u : (o.shuffle ?? fisherYates);
    this.remotes = order(o.remotes.slice()).map((raw) => remoteOf(raw, find));
    this.watch = new LockWatch({
      clock: this.clock, readTimeoutS: o.readTimeoutS, packets: o.packets, discarded: o.discarded, bytes: () => this._bytesIn,
      fail: (reason) => { this.failCurrent(reason); },
    });
    const h = o.healthFailover;
    if (h) {
      this.policy = new HealthPolicy({
        count: this.remotes.length, alarmTimeMs: h.alarmTimeS * 1000, reconnectMs: o.reconnectS * 1000, clock: this.clock,
        switchTo: (to, indicator) => { this.switchAway(to, indicator, h.alarmTimeS); },
        stay: (indicator, retryMs) => { this.o.log.warn({ evt: EVT.upstreamInfo, url: this.current?.remote.safe, indicator, retryMs: Math.round(retryMs) }, `health failover: ${indicator} raised, but every other remote ended its last run in alarm; staying`); },
      });
    }
  }

  /**
   * Health failover: the stream's failover trigger (a priority-1 alarm, or one in
   * `failoveron`) raised on the connection in use, or cleared (undefined).
   */
  healthAlarm(indicator: Indicator | undefined): void {
    const att = this.current;
    if (!this.policy || this.closed) return;
    if (att?.delivering) this.policy.triggered(indicator, att.index);
    else this.policy.triggered(undefined, -1);
  }

  /** An upstream connection is established: it has delivered an aligned packet and not ended. */
  get connected(): boolean { return this.isConnected; }
  /** The URL being connected or connected; undefined while waiting or offline. */
  get currentUrl(): string | undefined { return this.current?.remote.raw; }
  /** Connection attempts after the first. */
  get reconnects(): number { return this._reconnects; }
  get bytesIn(): number { return this._bytesIn; }
  /** Why the connection in use is on its remote (the last switch); undefined while none is. */
  get switchReason(): SwitchReason | undefined { return this.reasons.current; }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    if (this.remotes.length === 0) {
      this.o.log.warn({ evt: EVT.upstreamOffline }, 'stream has no upstream URL');
      return;
    }
    this.attempt();
  }

  /**
   * The owner's aligner is about to pass on an aligned packet of the current connection:
   * establish it now, before the packet reaches anyone (else noticed after the chunk).
   */
  delivering(): void {
    const att = this.current;
    if (att?.connected) this.onDelivering(att);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.isConnected = false;
    this.clearTimers();
    if (this.retryTimer !== undefined) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.policy?.close();
    const att = this.current;
    this.current = undefined;
    if (att) this.closeUpstream(att);
  }

  /** The failover trigger held for `alarmtime`: end this run as a lost connection, go to `to` at once. */
  private switchAway(to: number, indicator: Indicator, alarmTimeS: number): void {
    const att = this.current;
    if (!att?.delivering || att.done) return;
    att.switchTo = to;
    att.reason = new RestreamerError('UPSTREAM_UNHEALTHY', `${indicator} raised for ${alarmTimeS} s`);
    this.o.log.warn({ evt: EVT.upstreamInfo, url: att.remote.safe, next: this.remotes[to]!.safe, indicator, alarmTimeS }, `health failover: ${indicator} raised for ${alarmTimeS} s; switching to the next remote`);
    this.closeUpstream(att);
  }

  private attempt(): void {
    this.retryTimer = undefined;
    if (this.closed) return;
    const t = this.clock.monotonic();
    if (this.roundFailures === 0) this.roundStartedAt = t;
    if (this.attempts++ > 0) this._reconnects++;
    const index = this.policy ? this.policy.next(this.next) : this.next;
    const remote = this.remotes[index]!;
    this.next = (index + 1) % this.remotes.length;
    const att: Attempt = {
      remote, index, upstream: undefined, startedAt: t, connected: false, delivering: false,
      packetsAtConnect: 0, bytesAtConnect: 0, discardedAtConnect: 0, done: false, reason: undefined,
    };
    this.current = att;
    this.o.log.debug({ evt: EVT.upstreamRetry, url: remote.safe }, 'connecting upstream');
    if (remote.target instanceof RestreamerError) {
      this.failLater(att, remote.target);
      return;
    }
    const { url, kind } = remote.target;
    const ctx: SourceContext = {
      url: new URL(url.href),
      stream: this.o.stream,
      log: this.o.log.child({ url: remote.safe }),
      inputBufferPackets: this.o.inputBufferPackets,
      connectTimeoutMs: this.o.timeoutS * 1000,
      options: this.o.options,
    };
    let up: Upstream;
    try {
      up = kind.open(ctx, (chunk) => this.onChunk(att, chunk));
    } catch (e) {
      this.failLater(att, fromSystemError(e, `open ${remote.safe}`));
      return;
    }
    att.upstream = up;
    // open() may have called back (and ended or replaced this attempt) before it returned.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- changed by callbacks the types cannot follow
    if (att.done || this.closed || att !== this.current) { this.closeUpstream(att); return; }
    // Kinds that connect at their first datagram: readtimeout bounds that wait too.
    const waitMs = Math.min(
      this.o.timeoutS > 0 ? this.o.timeoutS * 1000 : Infinity,
      up.connectsOnData && this.o.readTimeoutS > 0 ? this.o.readTimeoutS * 1000 : Infinity,
    );
    if (waitMs < Infinity) {
      const silent = waitMs < this.o.timeoutS * 1000 || this.o.timeoutS <= 0;
      this.connectTimer = this.clock.setTimeout(() => { this.onConnectTimeout(att, silent); }, waitMs);
    }
    up.connected.then(() => this.onUpConnected(att), () => {});
    up.ended.then(
      (end) => this.onEnded(att, end),
      (e: unknown) => this.onEnded(att, { error: fromSystemError(e, remote.safe) }),
    );
  }

  /** A failure found before an upstream exists: settle it asynchronously, like real ones. */
  private failLater(att: Attempt, error: RestreamerError): void {
    queueMicrotask(() => this.onEnded(att, { error }));
  }

  private onChunk(att: Attempt, chunk: Buffer): void {
    if (att !== this.current || att.done) return;
    // Data proves the connection: report it before the first byte, whatever the promise's timing.
    if (!att.connected) this.onUpConnected(att);
    this._bytesIn += chunk.length;
    try {
      this.o.onData(chunk);
    } catch (e) {
      // A consumer bug must not take the upstream socket's event handler down.
      if (this.sinkErrors++ === 0) this.o.log.error({ evt: EVT.warning, err: errorText(e) }, 'stream data handler threw');
    }
    // One comparison per chunk, none per packet.
    if (att.delivering || att !== this.current) return;
    if (!this.o.packets || this.o.packets() > att.packetsAtConnect) this.onDelivering(att);
    else this.watch.chunk(); // garbage fails as soon as that is certain
  }

  private onUpConnected(att: Attempt): void {
    if (att !== this.current || att.connected || att.done || this.closed) return;
    att.connected = true;
    if (this.connectTimer !== undefined) this.clock.clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    att.packetsAtConnect = this.o.packets?.() ?? 0;
    att.bytesAtConnect = this._bytesIn;
    att.discardedAtConnect = this.o.discarded?.() ?? 0;
    this.o.log.debug({ evt: EVT.upstreamRetry, url: att.remote.safe }, 'upstream transport connected: waiting for aligned packets');
    this.safely(() => this.o.onTransportConnected?.(att.remote.raw));
    this.watch.start();
  }

  /** The first aligned packet of this connection: it is established. */
  private onDelivering(att: Attempt): void {
    if (att !== this.current || att.delivering || att.done || this.closed) return;
    att.delivering = true;
    this.roundFailures = 0;
    const r = att.remote;
    this.o.log.info({ evt: EVT.upstreamConnect, url: r.safe, ...(r.failures ? { failedAttempts: r.failures } : {}) }, 'upstream connected');
    r.failures = 0;
    r.lastCode = undefined;
    this.reasons.delivering(this.clock.now());
    this.isConnected = true;
    this.safely(() => { this.o.onConnected(r.raw); });
  }

  /** The lock watch failed the connection in use: close it with that reason. */
  private failCurrent(reason: RestreamerError): void {
    const att = this.current;
    if (!att || !att.connected || att.done) return;
    att.reason = reason;
    this.closeUpstream(att);
  }

  private onConnectTimeout(att: Attempt, silent: boolean): void {
    this.connectTimer = undefined;
    if (att !== this.current || att.connected || att.done) return;
    att.reason = silent
      ? new RestreamerError('UPSTREAM_READ_TIMEOUT', `no data for ${this.o.readTimeoutS} s`)
      : new RestreamerError('UPSTREAM_CONNECT_TIMEOUT', `not connected within ${this.o.timeoutS} s`);
    this.closeUpstream(att);
  }

  private onEnded(att: Attempt, end: UpstreamEnd): void {
    if (att.done) return;
    att.done = true;
    if (att !== this.current || this.closed) return;
    this.current = undefined;
    this.clearTimers();
    const r = att.remote;
    const reason = att.reason ?? end.error;
    if (att.delivering) {
      this.isConnected = false;
      const fields = { evt: EVT.upstreamDisconnect, url: r.safe, code: reason?.code, err: reason?.message };
      if (reason) this.o.log.warn(fields, 'upstream lost');
      else this.o.log.info(fields, 'upstream ended');
      this.policy?.ended(att.index);
      this.reasons.ended(r.raw, reason, att.switchTo !== undefined);
      this.safely(() => this.o.onDisconnected(r.raw, reason));
      this.roundFailures = 0;
      if (att.switchTo === undefined) this.scheduleNext(att.startedAt);
      else {
        this.next = att.switchTo;
        this.retryTimer = this.clock.setTimeout(() => { this.attempt(); }, 0);
      }
      return;
    }
    const err = reason ?? (att.connected
      ? new RestreamerError('UPSTREAM_NO_SYNC', 'upstream ended before it delivered an aligned MPEG-TS packet')
      : new RestreamerError('UPSTREAM_ENDED', 'upstream closed before it delivered data'));
    r.failures++;
    this.reasons.failed(r.raw, err);
    const fields = {
      evt: EVT.upstreamError, url: r.safe, code: err.code, err: err.message, failures: r.failures,
      // What a connection that never delivered did: bytes read, and how many were discarded.
      ...(att.connected ? { bytes: this._bytesIn - att.bytesAtConnect, discarded: (this.o.discarded?.() ?? 0) - att.discardedAtConnect } : {}),
    };
    // Each streak of identical failures is logged once; repeats only at debug level.
    if (r.lastCode !== err.code) this.o.log.warn(fields, 'upstream failed');
    else this.o.log.debug(fields, 'upstream failed again');
    r.lastCode = err.code;
    this.roundFailures++;
    if (this.roundFailures < this.remotes.length) {
      // Next remote now; via a timer so a kind that fails synchronously cannot recurse.
      this.retryTimer = this.clock.setTimeout(() => { this.attempt(); }, 0);
      return;
    }
    this.roundFailures = 0;
    this.scheduleNext(this.roundStartedAt);
  }

  private scheduleNext(since: number): void {
    if (this.o.reconnectS <= 0) {
      this.o.log.warn({ evt: EVT.upstreamOffline }, 'reconnecting disabled (reconnect 0): stream stays offline');
      return;
    }
    const delay = Math.max(0, since + this.o.reconnectS * 1000 - this.clock.monotonic());
    this.o.log.debug({ evt: EVT.upstreamRetry, retryMs: Math.round(delay) }, 'retrying upstream');
    this.retryTimer = this.clock.setTimeout(() => { this.attempt(); }, delay);
  }

  private closeUpstream(att: Attempt): void {
    try { att.upstream?.close(); } catch (e) { this.o.log.error({ evt: EVT.warning, url: att.remote.safe, err: errorText(e) }, 'upstream close threw'); }
  }

  private clearTimers(): void {
    if (this.connectTimer !== undefined) this.clock.clearTimeout(this.connectTimer);
    this.watch.stop();
    this.connectTimer = undefined;
  }

  private safely(fn: () => void): void {
    try { fn(); } catch (e) { this.o.log.error({ evt: EVT.warning, err: errorText(e) }, 'stream state handler threw'); }
  }
}
