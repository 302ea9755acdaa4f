import { randomBytes } from 'node:crypto';
import type { StreamAnalyzer } from '../ts/analyzer.js';
import { TS_PACKET_SIZE } from '../ts/packet.js';
import { PCR_HZ, pcrForward } from '../ts/pcr.js';
import type { Clock } from './clock.js';
import type { PacketRing } from './ring.js';
import { startPrefix, type CcView } from './prefix.js';
import { HlsWindow, type HlsPlaylist, type HlsSegment } from './hls-window.js';

// Live HLS from the hub (DESIGN rule 15): the hub hands over each batch of packets it has
// just written to its ring (aligned, analysed, continuity counters continued) and the
// segmenter cuts them into segments at the analyzer's keyframes. Nothing is parsed
// again: where a keyframe is comes from the analyzer, the PAT/PMT copies from prefix.ts.
// Durations are media time: the PCR where it runs on, else arrival time on the hub's clock
// (docs/hls.md).

export interface HlsOptions {
  /** Shortest segment, seconds (hlssegment): a segment is cut at the first keyframe after it. */
  segmentS: number;
  /** Segments listed (hlswindow). */
  window: number;
  /** The playlist's own file name ("news.m3u8"): segment URLs are relative to it. */
  playlistName: string;
}

/** A keyframe this much before hlssegment still ends a segment: arrival times jitter. */
const EARLY_FRACTION = 0.1;
/**
 * A segment without a keyframe is cut when it reaches target + this, seconds: its EXTINF
 * still rounds to the target (RFC 8216 4.3.3.1: rounded to the nearest integer, ≤ target).
 */
const ROUNDING_SLACK_S = 0.45;
/** Longest first segment without a second keyframe (at least 3 × hlssegment), ms. */
const FIRST_SEGMENT_MAX_MS = 10_000;
/** A PCR step between two batches beyond this is a jump (a loop, a new encoder), not time, ms. */
const MAX_PCR_STEP_MS = 10_000;
/** First capacity of the buffer a segment is gathered in, bytes (it doubles when needed). */
const INITIAL_ACC_BYTES = 1 << 20;

/** What the segmenter reads of the hub (a StreamHub's analyzer, ring and continuer). */
export interface SegmenterInput {
  readonly analyzer: StreamAnalyzer;
  readonly ring: PacketRing;
  readonly continuity: CcView;
}

export class HlsSegmenter {
  /** New at each start of a segmenter: segment URLs never repeat with other content. */
  readonly epoch: string;
  private readonly win: HlsWindow;
  /** The segment being gathered: its packets from ring index accStart, accLen bytes. */
  private acc = Buffer.allocUnsafe(INITIAL_ACC_BYTES);
  private accLen = 0;
  private accStart = -1;
  /** PAT and PMT the segment being gathered starts with; undefined: none started. */
  private prefix: Buffer | undefined;
  /** Media time of the segment's start, ms. */
  private segStartedAt = 0;
  /** Wall clock of the segment's first packet, ms (#EXT-X-PROGRAM-DATE-TIME). */
  private segWallStart = 0;
  /** Media time, ms: advances by the PCR where it runs on, else by the clock. */
  private mediaMs = 0;
  private lastPcr = -1;
  private lastPcrEpoch = -1;
  private lastWall = -1;
  /** The newest keyframe (ring index) already acted on. */
  private seenRap = -1;
  private seq = 0;
  /** The next segment follows an upstream switch or loss. */
  private discontinuity = false;
  private readonly segmentMs: number;
  /** Longest first segment while no second keyframe comes, ms: the target cannot wait forever. */
  private readonly firstMaxMs: number;
  private closed = false;
  /** Told once when the next segment is listed (playlist requests waiting for a first one). */
  private listeners = new Set<() => void>();

  constructor(o: HlsOptions, private readonly input: SegmenterInput, private readonly clock: Clock) {
    this.epoch = clock.now().toString(36) + randomBytes(3).toString('hex');
    this.win = new HlsWindow(o.window, `${o.playlistName}/`, this.epoch);
    this.segmentMs = o.segmentS * 1000;
    this.firstMaxMs = Math.max(FIRST_SEGMENT_MAX_MS, 3 * this.segmentMs);
  }

  /** #EXT-X-TARGETDURATION, seconds (0 until the first segment). */
  get targetS(): number { return this.win.targetS; }
  /** When the newest segment was listed (hub clock, ms); -1 before the first. */
  get lastListedAt(): number { return this.win.lastListedAt; }

  playlist(): HlsPlaylist | undefined { return this.win.playlist(); }

  segment(name: string): HlsSegment | undefined { return this.win.segment(name, this.clock.now()); }

  /** Call `fn` once, when the next segment is listed; returns what cancels that. */
  onListed(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  }

  /** Packets [from, to) were just written to the hub's ring (one call per batch). */
  packets(from: number, to: number): void {
    if (this.closed) return;
    const wall = this.clock.now();
    const media = this.advance(wall);
    const a = this.input.analyzer;
    const rap = a.lastRapIndex;
    const newRap = rap > this.seenRap && rap >= this.input.ring.tail;
    if (newRap) this.seenRap = rap;
    if (this.prefix === undefined) {
      // Start at a keyframe; a stream without video starts at once.
      if (newRap) this.begin(rap, to, media, wall);
      else if (a.videoPid < 0 && a.pmtPackets !== undefined) this.begin(from, to, media, wall);
      return;
    }
    this.append(from, to);
    const elapsed = media - this.segStartedAt;
    if (newRap && rap > this.accStart && elapsed >= this.segmentMs * (1 - EARLY_FRACTION)) {
      this.cut(rap, media, wall);
    } else if (this.win.targetS > 0 && elapsed >= (this.win.targetS + ROUNDING_SLACK_S) * 1000) {
      this.cut(to, media, wall); // no keyframe in time: cut at the target
    } else if (a.videoPid < 0 && elapsed >= this.segmentMs) {
      this.cut(to, media, wall);
    } else if (this.win.targetS === 0 && elapsed >= this.firstMaxMs) {
      this.cut(to, media, wall); // no second keyframe for long: the first segment fixes the target without one
    }
  }

  /**
   * The upstream session ended (loss, switch): what has been gathered becomes a segment,
   * and the next one, at the new session's first keyframe, is marked a discontinuity.
   */
  sessionEnded(): void {
    const wall = this.clock.now();
    if (this.prefix !== undefined && this.accLen > 0) this.cut(this.accStart + this.accLen / TS_PACKET_SIZE, this.advance(wall), wall);
    this.prefix = undefined;
    this.accLen = 0;
    this.seenRap = Math.max(this.seenRap, this.input.ring.head - 1);
    if (this.seq > 0) this.discontinuity = true;
  }

  close(): void {
    this.closed = true;
    this.prefix = undefined;
    this.accLen = 0;
  }

  /** Start gathering a segment at ring index `at` (packets up to `to` are in the ring). */
  /** Media time now, ms: the PCR's step since the last batch where it runs on, else the clock's. */
  private advance(wall: number): number {
    const a = this.input.analyzer;
    const pcr = a.pcr, epoch = a.pcrEpochNumber;
    let step = this.lastWall < 0 ? 0 : wall - this.lastWall;
    if (pcr >= 0 && this.lastPcr >= 0 && epoch === this.lastPcrEpoch) {
      const ms = (pcrForward(this.lastPcr, pcr) * 1000) / PCR_HZ;
      if (ms <= MAX_PCR_STEP_MS) step = ms;
    }
    this.lastPcr = pcr;
    this.lastPcrEpoch = epoch;
    this.lastWall = wall;
    return (this.mediaMs += step);
  }

  private begin(at: number, to: number, media: number, wall: number): void {
    const p = startPrefix(this.input.analyzer, this.input.ring, at, this.input.continuity, this.discontinuity);
    if (p === undefined) return; // no PAT/PMT yet: wait for the next keyframe
    this.prefix = p.buf;
    this.accStart = at;
    this.accLen = 0;
    this.segStartedAt = media;
    this.segWallStart = wall;
    this.append(at, to);
  }

  /** Copy ring packets [from, to) behind what is gathered (one copy per batch). */
  private append(from: number, to: number): void {
    const bytes = (to - from) * TS_PACKET_SIZE;
    if (this.accLen + bytes > this.acc.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.acc.length * 2, this.accLen + bytes));
      this.acc.copy(bigger, 0, 0, this.accLen);
      this.acc = bigger;
    }
    this.input.ring.copyInto(from, to, this.acc, this.accLen);
    this.accLen += bytes;
  }

  /** End the segment before ring index `at`; the next one starts there. */
  private cut(at: number, media: number, wall: number): void {
    const prefix = this.prefix!;
    const cutBytes = (at - this.accStart) * TS_PACKET_SIZE;
    const durationMs = media - this.segStartedAt;
    if (this.win.targetS === 0) {
      // The first segment fixes the target for the playlist's life: the longest of
      // hlssegment, the GOP seen so far and this segment, as an EXTINF rounds.
      const longest = Math.max(this.segmentMs, this.input.analyzer.gopMs, durationMs) / 1000;
      this.win.fixTarget(Math.max(1, Math.ceil(longest - ROUNDING_SLACK_S)));
    }
    const data = Buffer.allocUnsafe(prefix.length + cutBytes);
    prefix.copy(data, 0);
    this.acc.copy(data, prefix.length, 0, cutBytes);
    const seq = this.seq++;
    const name = `${this.epoch}-${seq}.ts`;
    this.win.add({ seq, name, data, etag: `"${this.epoch}-${seq}"`, durationMs, startedAt: this.segWallStart, discontinuity: this.discontinuity }, wall);
    this.discontinuity = false;
    if (this.listeners.size > 0) {
      const told = this.listeners;
      this.listeners = new Set();
      for (const fn of told) fn();
    }
    // The rest starts the next segment, after a fresh PAT/PMT.
    this.acc.copyWithin(0, cutBytes, this.accLen);
    this.accLen -= cutBytes;
    this.accStart = at;
    this.segStartedAt = media;
    this.segWallStart = wall;
    const p = startPrefix(this.input.analyzer, this.input.ring, at, this.input.continuity, false);
    this.prefix = p?.buf ?? prefix;
  }
}
