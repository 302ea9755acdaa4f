import { EVT, type Logger } from './logger.js';

// House rule 3: repeated faults are counted and summarised in logs periodically, not
// logged one by one. Two shapes of fault, one interval:
// - FaultSummary: faults counted in plain numbers where they happen (a datagram source's
//   hot path), polled once per interval and logged as what changed since the last line;
//   the first fault of each kind is logged at once.
// - FaultLog: faults that come with their own error (a failed fetch or notification):
//   the first is logged at once, later ones at most once per interval, each line with
//   `failures`, the number of faults since the previous line, itself included.

/** How often repeated faults are summarised in the log. */
const FAULT_SUMMARY_MS = 10_000;

/**
 * Counters of repeated faults (`read()` returns their cumulative values), logged as
 * `upstream_faults` once per interval with what changed (`since`) and the totals. The
 * first fault of a kind is logged at once (`first()`), so a misconfiguration shows up
 * without waiting for the interval.
 */
export class FaultSummary {
  private readonly last: Record<string, number> = {};
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly log: Logger, private readonly read: () => Record<string, number>, private readonly intervalMs = FAULT_SUMMARY_MS) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.report(), this.intervalMs);
    this.timer.unref();
  }

  /** Log the first occurrence of a fault kind immediately (cheap: called only on faults). */
  first(kind: string, fields: Record<string, unknown>, msg: string): void {
    if ((this.last[`first:${kind}`] ?? 0) > 0) return;
    this.last[`first:${kind}`] = 1;
    this.log.warn({ evt: EVT.upstreamFaults, first: kind, ...fields }, msg);
  }

  report(): void {
    const now = this.read();
    let changed: Record<string, number> | undefined;
    for (const k of Object.keys(now)) {
      const d = now[k]! - (this.last[k] ?? 0);
      if (d > 0) (changed ??= {})[k] = d;
      this.last[k] = now[k]!;
    }
    if (changed) this.log.warn({ evt: EVT.upstreamFaults, since: changed, totals: now }, 'upstream faults since the last summary');
  }

  /** Final report and stop. Idempotent. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.report();
  }
}

/**
 * Faults with their own error: at most one warning per interval, carrying `failures`
 * (faults since the previous warning, this one included); the others are only counted.
 */
export class FaultLog {
  private failures = 0;
  private lastLog = -Infinity;

  constructor(private readonly log: Logger, private readonly intervalMs = FAULT_SUMMARY_MS, private readonly now: () => number = Date.now) {}

  note(fields: Record<string, unknown>, msg: string): void {
    this.failures++;
    const now = this.now();
    if (now - this.lastLog < this.intervalMs) return;
    this.log.warn({ ...fields, failures: this.failures }, msg);
    this.failures = 0;
    this.lastLog = now;
  }
}
