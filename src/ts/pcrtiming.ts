// PCR and PTS timing checks of the stream health checker (src/ts/tr101290.ts):
// pcr_repetition_error, pcr_discontinuity_error and pts_error. Pure; time comes in as
// arguments. Called once per PCR or PES start of the program's PCR PID and watched PIDs,
// and once per batch; allocation-free.
//
// A PCR interval says how far the stream's clock moved (`ms`); how far it should have
// moved (`expected`) is the more generous of the arrival time between the two PCRs and
// the packets between them at the stream's recent mean rate (ticks per packet). So
// - a jump is `ms - expected` beyond `pcrJumpMs`, or any step backwards: the time base
//   moved without the discontinuity indicator (pcr_discontinuity_error);
// - PCRs really spaced too far apart show as both `ms` and `expected` beyond
//   `pcrIntervalMs` (pcr_repetition_error); values that jumped while PCRs kept coming, or
//   packets that arrived late in a burst while the values stayed regular, do not.
// An interval of at most min(pcrIntervalMs, pcrJumpMs) forward, what every clean stream
// has, is never an error whatever the arrival times.
//
// PTS repetition is measured in stream time (the PCR clock summed over accepted
// intervals), not in arrival time, so network jitter and bursts cannot fake it.

import { Ind, type AlarmBoard } from './alarms.js';
import { PCR_HZ, PCR_WRAP } from './pcr.js';

const TICKS_PER_MS = PCR_HZ / 1000;
/** Accepted intervals remembered for the mean rate. */
const RATE_HISTORY = 16;
/** Arrival time without any PCR after which pcr_repetition_error counts once per such span. */
const PCR_ABSENT_MS = 1000;
/** Watched PIDs whose PTS repetition is checked: the video and the first audio. */
export const PTS_SLOTS = 2;

export interface PcrLimits {
  pcrIntervalMs: number;
  pcrJumpMs: number;
  ptsIntervalMs: number;
}

export class PcrTiming {
  private running = false;
  /** Last PCR in ticks, -1 before the first (or after a re-anchor's reset). */
  private lastPcr = -1;
  private lastIndex = 0;
  /** Arrival (checker) time of the last PCR, or of start() before the first. */
  private lastT = 0;
  /** The absence of PCRs since the last one was already counted. */
  private absentCounted = false;
  private absentAt = 0;
  /** Stream time in ms: the PCR clock summed over accepted intervals (jumps left out). */
  private streamMs = 0;
  private readonly rateTicks = new Float64Array(RATE_HISTORY);
  private readonly ratePackets = new Float64Array(RATE_HISTORY);
  private rateCount = 0;
  /** Sums over the history: the stream's mean rate is sumTicks / sumPackets. */
  private sumTicks = 0;
  private sumPackets = 0;
  /** Stream time of the last PTS per slot; NaN: none yet. */
  private readonly ptsAt = new Float64Array(PTS_SLOTS).fill(NaN);

  constructor(private readonly board: AlarmBoard, private readonly limits: PcrLimits) {}

  /** The program's PCR PID is now known (or changed) at time `t`: start afresh. */
  start(t: number): void {
    this.running = true;
    this.lastPcr = -1;
    this.lastT = t;
    this.absentCounted = false;
    this.rateCount = this.sumTicks = this.sumPackets = 0;
    this.rateTicks.fill(0);
    this.ratePackets.fill(0);
    this.ptsAt.fill(NaN);
  }

  /** No PCR PID (none in the PMT, or the program is gone). */
  stop(): void {
    this.running = false;
    this.ptsAt.fill(NaN);
  }

  /** Forget the PTS timer of a slot (its PID changed). */
  clearPts(slot: number): void { this.ptsAt[slot] = NaN; }

  /** A PCR `value` (ticks) in packet number `index`, at checker time `t`. */
  pcr(value: number, index: number, disc: boolean, t: number): void {
    if (!this.running) return;
    if (this.lastPcr < 0 || disc) { this.anchor(value, index, t); return; }
    let d = value - this.lastPcr;
    if (d < -PCR_WRAP / 2) d += PCR_WRAP;
    else if (d > PCR_WRAP / 2) d -= PCR_WRAP;
    const ms = d / TICKS_PER_MS;
    const n = index - this.lastIndex;
    const L = this.limits;
    if (ms >= 0 && ms <= L.pcrIntervalMs && ms <= L.pcrJumpMs) {
      this.accept(ms, d, n, t); // the clean case, without estimates
    } else {
      const expected = this.expectedMs(n, t - this.lastT);
      if (ms < 0 || ms - expected > L.pcrJumpMs) {
        this.board.event(Ind.PcrDiscontinuity, t);
        this.anchor(value, index, t);
        return;
      }
      if (Math.min(ms, expected) > L.pcrIntervalMs && !this.absentCounted) this.board.event(Ind.PcrRepetition, t);
      this.accept(ms, d, n, t);
    }
    this.lastPcr = value;
    this.lastIndex = index;
    this.lastT = t;
    this.absentCounted = false;
  }

  /** A PES header with a PTS on watched slot `slot`, in packet number `index`, at checker time `t`. */
  pts(slot: number, index: number, t: number): void {
    if (!this.running || this.lastPcr < 0) return;
    // Stream time of this packet: the last PCR's, plus the packets since at the mean rate
    // (bounded: PCRs that stopped are pcr_repetition_error's business).
    const since = this.sumPackets > 0 ? ((index - this.lastIndex) * this.sumTicks) / this.sumPackets / TICKS_PER_MS : 0;
    const now = this.streamMs + Math.min(since, this.limits.pcrJumpMs);
    if (now - this.ptsAt[slot]! > this.limits.ptsIntervalMs) this.board.event(Ind.Pts, t);
    this.ptsAt[slot] = now;
  }

  /** Once per batch: PCRs absent for a long time in arrival time. */
  check(t: number): void {
    if (!this.running) return;
    const since = this.absentCounted ? this.absentAt : this.lastT;
    if (t - since > Math.max(PCR_ABSENT_MS, this.limits.pcrIntervalMs)) {
      this.board.event(Ind.PcrRepetition, t);
      this.absentCounted = true;
      this.absentAt = t;
    }
  }

  /** How far the clock should have moved over `n` packets and `elapsed` ms of arrival. */
  private expectedMs(n: number, elapsed: number): number {
    const byRate = this.sumPackets > 0 ? (n * this.sumTicks) / this.sumPackets / TICKS_PER_MS : 0;
    return Math.max(elapsed, byRate);
  }

  private accept(ms: number, d: number, n: number, t: number): void {
    if (n > 0) {
      const k = this.rateCount++ % RATE_HISTORY;
      this.sumTicks += d - this.rateTicks[k]!;
      this.sumPackets += n - this.ratePackets[k]!;
      this.rateTicks[k] = d;
      this.ratePackets[k] = n;
    }
    this.streamMs += ms;
    // PTS repetition is not judged across a gap in the clock itself.
    if (ms > this.limits.ptsIntervalMs) { this.restartPts(); return; }
    const limit = this.limits.ptsIntervalMs;
    for (let s = 0; s < PTS_SLOTS; s++) {
      if (this.streamMs - this.ptsAt[s]! > limit) {
        this.board.event(Ind.Pts, t);
        this.ptsAt[s] = this.streamMs;
      }
    }
  }

  private restartPts(): void {
    for (let s = 0; s < PTS_SLOTS; s++) if (!Number.isNaN(this.ptsAt[s]!)) this.ptsAt[s] = this.streamMs;
  }

  private anchor(value: number, index: number, t: number): void {
    this.lastPcr = value;
    this.lastIndex = index;
    this.lastT = t;
    this.absentCounted = false;
  }
}
