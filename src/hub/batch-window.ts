import type { EventLoopUtilization } from 'node:perf_hooks';
import { TS_PACKET_SIZE } from '../ts/packet.js';
import type { Clock, TimerHandle } from './clock.js';

/** The batch window is at least this many times the (smoothed) time a flush takes. */
const WINDOW_PER_FLUSH = 4;
/** By default the window stretches to at most this many times batchms (and at most 100 ms). */
const MAX_WINDOW_FACTOR = 3;
/** Event-loop utilisation above which the window goes straight to its maximum. */
const SATURATED = 0.9;
/** Under saturation a client behind the live edge then gets this many times the live batch per flush. */
const DEFERRED_RATE = 1.25;

/** The hub options this policy reads (same names and meaning as HubOptions). */
export interface BatchWindowOptions {
  batchMs: number;
  maxBatchMs?: number | undefined;
  deferBursts?: boolean | undefined;
  firstBurstBytes?: number | undefined;
  flushBytes?: number | undefined;
}

/**
 * When the hub flushes, and how much a client behind the live edge gets while the event loop
 * is saturated. Data waits for the batch window (or until flushBytes have accumulated); the
 * window stretches under load (interrupt coalescing, see adapt()). The clock is read once
 * per flush and the timer set once per batch, never per packet.
 */
export class BatchWindow {
  readonly batchMs: number;
  readonly maxBatchMs: number;
  /** Send early once this many packets have accumulated. */
  readonly flushPackets: number;
  /** Current batch window, ms: batchMs when idle, longer when flushes get expensive. */
  private windowMs: number;
  /** Smoothed duration of a flush, ms. */
  private flushCostMs = 0;
  /** Event-loop utilisation at the previous flush. */
  private eluMark: EventLoopUtilization;
  /** Event-loop utilisation measured at the last flush. */
  private busy = 0;
  private readonly deferBursts: boolean;
  /** Under saturation a new client's first write carries at most this much of its burst. */
  private readonly firstBurstPackets: number;
  private timer: TimerHandle | undefined;

  /** `onDue`: the window has ended, flush now. */
  constructor(opts: BatchWindowOptions, private readonly clock: Clock, private readonly onDue: () => void) {
    this.batchMs = opts.batchMs;
    this.maxBatchMs = Math.max(this.batchMs, opts.maxBatchMs ?? Math.min(MAX_WINDOW_FACTOR * this.batchMs, 100));
    this.windowMs = this.batchMs;
    this.deferBursts = opts.deferBursts ?? false;
    this.firstBurstPackets = Math.max(1, Math.floor((opts.firstBurstBytes ?? 64 * 1024) / TS_PACKET_SIZE));
    this.flushPackets = Math.max(1, Math.floor((opts.flushBytes ?? 64 * 1024) / TS_PACKET_SIZE));
    this.eluMark = clock.eventLoopUtilization();
  }

  /** The batch window now in use, ms (batchms, stretched under load). */
  get ms(): number { return this.windowMs; }

  /** `pending` packets wait to be sent: flush at once (else arm() the timer). */
  due(pending: number): boolean {
    return pending >= this.flushPackets || this.batchMs === 0;
  }

  /** Start the window's timer unless it is running. */
  arm(): void {
    this.timer ??= this.clock.setTimeout(this.onTimer, this.windowMs);
  }

  /** Stop the timer (a flush is under way, or the hub closes). */
  disarm(): void {
    if (this.timer) { this.clock.clearTimeout(this.timer); this.timer = undefined; }
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.onDue();
  };

  /** A flush begins: measure the load since the previous one; returns the start time for flushEnded. */
  flushStarted(): number {
    this.measureLoad();
    return this.clock.monotonic();
  }

  /** The flush that began at `t0` is over: adapt the window to what it cost. */
  flushEnded(t0: number): void {
    this.adapt(this.clock.monotonic() - t0);
  }

  /** Bursts are being deferred: the event loop was saturated over the last batch window. */
  get saturated(): boolean {
    return this.deferBursts && this.busy > SATURATED;
  }

  /** Where a keyframe-start client's first write ends: the whole burst, or only its start under saturation. */
  firstWriteEnd(rap: number, flushed: number): number {
    return this.saturated ? Math.min(flushed, rap + this.firstBurstPackets) : flushed;
  }

  /**
   * Where a client behind the live edge is taken to under saturation, this flush being
   * [from, to): the live amount (a little more), so its lag does not grow; the rest when
   * the load has passed.
   */
  deferredEnd(cursor: number, from: number, to: number): number {
    return Math.min(to, cursor + Math.ceil((to - from) * DEFERRED_RATE));
  }

  /** Event-loop utilisation since the previous flush (only measured where it is used). */
  private measureLoad(): void {
    if (this.maxBatchMs === this.batchMs && !this.deferBursts) return;
    const now = this.clock.eventLoopUtilization();
    this.busy = this.clock.eventLoopUtilization(now, this.eluMark).utilization;
    this.eluMark = now;
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
  private adapt(ms: number): void {
    if (this.maxBatchMs === this.batchMs) return;
    this.flushCostMs += (ms - this.flushCostMs) * 0.25;
    this.windowMs = this.busy > SATURATED ? this.maxBatchMs
      : Math.min(this.maxBatchMs, Math.max(this.batchMs, WINDOW_PER_FLUSH * this.flushCostMs));
  }
}
