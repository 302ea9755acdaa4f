import type { StreamAnalyzer } from '../ts/analyzer.js';
import type { HubClient, StartMode } from './client.js';
import type { Clock } from './clock.js';
import type { PrefixCache } from './join-cache.js';
import type { PacketRing } from './ring.js';

/** The hub options this policy reads (same names and meaning as HubOptions). */
export interface KeyframePolicyOptions {
  outputBufferPackets: number;
  start?: StartMode | undefined;
  slowTimeoutMs?: number | undefined;
  keyframeWaitMs?: number | undefined;
}

/** Where the policy counts packets a client loses (the hub's own counter). */
export interface DropCounter { packetsDropped: number }

/**
 * Where a client starts, resumes and skips to: keyframe start (or live), waiting for a
 * keyframe after a switch or an overrun, and what a client too far behind loses. It moves
 * a client's cursor and counts what it skips; the hub does the writing.
 */
export class KeyframePolicy {
  /** Default start mode for new clients. */
  readonly start: StartMode;
  private readonly outputBuffer: number;
  private readonly slowTimeoutMs: number;
  private readonly keyframeWaitMs: number;

  constructor(
    opts: KeyframePolicyOptions,
    private readonly clock: Clock,
    private readonly analyzer: StreamAnalyzer,
    private readonly ring: PacketRing,
    private readonly prefixes: PrefixCache,
    private readonly counter: DropCounter,
  ) {
    this.outputBuffer = opts.outputBufferPackets;
    this.start = opts.start ?? 'keyframe';
    this.slowTimeoutMs = opts.slowTimeoutMs ?? 0;
    this.keyframeWaitMs = opts.keyframeWaitMs ?? 5000;
  }

  /**
   * A new keyframe-start client, data flushed up to `flushed`: true when it starts at the
   * latest keyframe now (its cursor is there, its prefix is PAT/PMT, its lag allowance
   * includes the burst); false when it must wait for the next keyframe (none known yet,
   * or the burst does not fit the ring with `flushPackets` to spare).
   */
  startAtKeyframe(c: HubClient, flushed: number, flushPackets: number): boolean {
    const rap = this.analyzer.lastRapIndex;
    const burst = flushed - rap;
    const prefix = rap >= this.ring.tail ? this.prefixes.at(rap, false) : undefined;
    if (prefix && burst >= 0 && burst + this.outputBuffer + flushPackets < this.ring.capacity) {
      c.cursor = rap;
      c.lagLimit = this.outputBuffer + burst;
      c.prefix = prefix;
      return true;
    }
    this.waitForKeyframe(c, flushed, flushed, false, false);
    return false;
  }

  /**
   * Send the client nothing until a keyframe at or after `from` is in the ring (or, when
   * skipped packets do not count, until the wait times out). `countSkipped`: what it misses
   * meanwhile counts as dropped (a slow client), or not (an upstream switch).
   */
  waitForKeyframe(c: HubClient, from: number, flushed: number, countSkipped: boolean, withDiscontinuity: boolean): void {
    c.waitRap = true;
    c.resumeFrom = from;
    c.cursor = Math.max(c.cursor, Math.min(from, flushed));
    c.countSkipped = countSkipped;
    c.withDiscontinuity = withDiscontinuity;
    c.waitRapUntil = this.clock.now() + this.keyframeWaitMs;
    c.prefix = undefined;
    c.lagLimit = this.outputBuffer;
  }

  /**
   * A client waiting for a keyframe, data flushed up to `to`: start it there if one has
   * arrived (true), else skip what came in meanwhile (false). A stream without keyframes
   * (radio, unknown codec) starts live once the wait times out.
   */
  tryResume(c: HubClient, to: number): boolean {
    const rap = this.analyzer.lastRapIndex;
    const prefix = rap >= c.resumeFrom && rap >= c.cursor ? this.prefixes.at(rap, c.withDiscontinuity) : undefined;
    if (prefix) {
      this.skip(c, rap - c.cursor);
      c.cursor = rap;
      c.prefix = prefix;
      c.waitRap = false;
      c.lagLimit = this.outputBuffer + (to - rap);
      return true;
    }
    if (this.clock.now() > c.waitRapUntil && !c.countSkipped) {
      c.waitRap = false;
      c.cursor = Math.max(c.cursor, c.resumeFrom);
      return true;
    }
    this.skip(c, to - c.cursor);
    c.cursor = to;
    return false;
  }

  /** The client has waited for 'drain' longer than slowtimeout (0: never too slow). */
  tooSlow(c: HubClient): boolean {
    return this.slowTimeoutMs > 0 && this.clock.now() - c.waitingSince > this.slowTimeoutMs;
  }

  /**
   * A client more than its lag limit behind: live mode drops the oldest data (the
   * original's behaviour); keyframe mode skips to the newest keyframe, or waits for the
   * next one after `flushed`, so the client never decodes from the middle of a GOP.
   */
  trimLag(c: HubClient, flushed: number): void {
    const head = this.ring.head;
    const lag = head - c.cursor;
    if (lag <= c.lagLimit) return;
    if (c.mode === 'live') {
      const n = lag - c.lagLimit;
      c.cursor += n;
      c.packetsDropped += n;
      this.counter.packetsDropped += n;
      return;
    }
    const rap = this.analyzer.lastRapIndex;
    const prefix = rap > c.cursor && head - rap <= this.outputBuffer ? this.prefixes.at(rap, false) : undefined;
    if (prefix) {
      c.packetsDropped += rap - c.cursor;
      this.counter.packetsDropped += rap - c.cursor;
      c.cursor = rap;
      c.prefix = prefix;
      c.lagLimit = this.outputBuffer;
    } else {
      c.packetsDropped += flushed - c.cursor;
      this.counter.packetsDropped += flushed - c.cursor;
      c.cursor = flushed;
      this.waitForKeyframe(c, flushed, flushed, true, false);
    }
  }

  private skip(c: HubClient, n: number): void {
    if (n <= 0 || !c.countSkipped) return;
    c.packetsDropped += n;
    this.counter.packetsDropped += n;
  }
}
