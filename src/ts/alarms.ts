// The indicators of the stream health checks (ETSI TR 101 290 and `scrambled`), their
// error counters and their raised/cleared states with hysteresis (docs/health.md).
// Pure: time is handed in by the checker (src/ts/tr101290.ts), never read from a clock.
// Errors are counted in plain numbers in typed arrays; only a raise or a clear, never a
// single error, builds an object (the event handed to the listener).

/** Indicator names: a contract (statistics, metrics, webhooks, config all use them). */
export const INDICATORS = [
  'ts_sync_loss', 'sync_byte_error', 'pat_error', 'cc_error', 'pmt_error', 'pid_error',
  'transport_error', 'crc_error', 'pcr_repetition_error', 'pcr_discontinuity_error', 'pts_error',
  'scrambled',
] as const;
export type Indicator = (typeof INDICATORS)[number];

/** Index of each indicator in INDICATORS, for the typed arrays of the hot path. */
export const Ind = {
  TsSyncLoss: 0, SyncByte: 1, Pat: 2, Cc: 3, Pmt: 4, Pid: 5,
  Transport: 6, Crc: 7, PcrRepetition: 8, PcrDiscontinuity: 9, Pts: 10,
  Scrambled: 11,
} as const;

const N = INDICATORS.length;

/**
 * TR 101 290's priority 1 (the stream cannot be decoded: what health failover acts on)
 * or 2. `scrambled` is not in TR 101 290; it is grouped with priority 2, so that it drives
 * failover only where a stream lists it (`failoveron`).
 */
export function priorityOf(indicator: Indicator): 1 | 2 {
  return INDICATORS.indexOf(indicator) <= Ind.Pid ? 1 : 2;
}

/** One transition: an indicator raised or cleared. */
export interface AlarmEvent {
  indicator: Indicator;
  raised: boolean;
  priority: 1 | 2;
  /** The caller's time (the `nowMs` of the call in which it happened). */
  atMs: number;
  /** The indicator's error count at that moment. */
  count: number;
}
export type AlarmListener = (e: AlarmEvent) => void;

/**
 * Counters and states. Two kinds of errors feed an indicator:
 * - events (a CC error, a TEI packet, a bad CRC ...): counted one by one; the indicator
 *   is raised once errors keep coming, i.e. there was an error in each of two consecutive
 *   windows of `windowMs`, the first opening at the first error after a quiet spell. A
 *   lone error, or a burst inside one window, is counted and raises nothing.
 * - conditions (a table or a PID missing beyond its timeout): the timeout already is the
 *   persistence, so the indicator is raised at once; each episode counts one error, and
 *   the condition counts as an error at every call while it holds.
 * A raised indicator clears after `clearMs` without an error.
 */
export class AlarmBoard {
  private readonly counts = new Float64Array(N);
  private readonly raised = new Uint8Array(N);
  private raisedCount = 0;
  /** Time of the last error, -Infinity before the first. */
  private readonly lastErr = new Float64Array(N).fill(-Infinity);
  /** Start of the current streak of windows with an error (events only). */
  private readonly streak = new Float64Array(N);
  /** The caller's time of the current call, reported in events. */
  wallMs = 0;

  constructor(
    private readonly windowMs: number,
    private readonly clearMs: number,
    private readonly listener: AlarmListener | undefined,
  ) {}

  count(i: number): number { return this.counts[i]!; }
  isRaised(i: number): boolean { return this.raised[i] === 1; }
  get anyRaised(): boolean { return this.raisedCount > 0; }

  /** `n` event errors at time `t`. */
  event(i: number, t: number, n = 1): void {
    this.counts[i] = this.counts[i]! + n;
    const last = this.lastErr[i]!;
    this.lastErr[i] = t;
    if (this.raised[i] === 1) return;
    const w = this.windowMs;
    let start = this.streak[i]!;
    // A window with no error between the last one and this one ends the streak.
    if (last === -Infinity || Math.floor((t - start) / w) > Math.floor((last - start) / w) + 1) {
      start = t;
      this.streak[i] = t;
    }
    if (t - start >= w) this.raise(i);
  }

  /** A condition holds at time `t`; `fresh` new episodes of it began (each counts one error). */
  hold(i: number, t: number, fresh: number): void {
    this.counts[i] = this.counts[i]! + fresh;
    this.lastErr[i] = t;
    if (this.raised[i] === 0) this.raise(i);
  }

  /** Clear what has been quiet for `clearMs` at time `t`. */
  settle(t: number): void {
    if (this.raisedCount === 0) return;
    for (let i = 0; i < N; i++) {
      if (this.raised[i] === 1 && t - this.lastErr[i]! >= this.clearMs) {
        this.raised[i] = 0;
        this.raisedCount--;
        this.lastErr[i] = -Infinity; // the next error opens a new streak
        this.emit(i, false);
      }
    }
  }

  private raise(i: number): void {
    this.raised[i] = 1;
    this.raisedCount++;
    this.emit(i, true);
  }

  private emit(i: number, raised: boolean): void {
    if (this.listener === undefined) return;
    const indicator = INDICATORS[i]!;
    this.listener({ indicator, raised, priority: priorityOf(indicator), atMs: this.wallMs, count: this.counts[i]! });
  }
}
