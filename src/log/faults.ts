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

/** The interval timer a summary runs on (src/hub/clock.ts's Clock satisfies it; log/ imports no hub). */
interface SummaryTimers {
  setInterval(fn: () => void, ms: number): NodeJS.Timeout | number;
  clearInterval(t: NodeJS.Timeout | number): void;
}

const realTimers: SummaryTimers = {
  setInterval: (fn, ms) => setInterval(fn, ms).unref(),
  clearInterval: (t) => { clearInterval(t); },
};

/** How a FaultSummary runs, beyond its interval. */
export interface FaultSummaryOptions {
  /** Its timer (default the real one, unref'd): a component on an injected clock passes that. */
  timers?: SummaryTimers;
  /**
   * Writes the summary line instead of `upstream_faults` (a fault with an event of its own,
   * e.g. discarded input); called with what grew since the last line and the totals.
   */
  line?: (since: Record<string, number>, totals: Record<string, number>) => void;
}

/**
 * Counters of repeated faults (`read()` returns their cumulative values), logged as
 * `upstream_faults` once per interval with what changed (`since`) and the totals. The
 * first fault of a kind is logged at once (`first()`), so a misconfiguration shows up
 * without waiting for the interval.
 */
export class FaultSummary {
  private readonly last: Record<string, number> = {};
  private timer: NodeJS.Timeout | number | undefined;

  constructor(
    private readonly log: Logger,
    private readonly read: () => Record<string, number>,
    private readonly intervalMs = FAULT_SUMMARY_MS,
    private readonly opts: FaultSummaryOptions = {},
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = (this.opts.timers ?? realTimers).setInterval(() => { this.report(); }, this.intervalMs);
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
    if (!changed) return;
    if (this.opts.line) this.opts.line(changed, now);
    else this.log.warn({ evt: EVT.upstreamFaults, since: changed, totals: now }, 'upstream faults since the last summary');
  }

  /** Final report and stop. Idempotent. */
  stop(): void {
    if (this.timer !== undefined) (this.opts.timers ?? realTimers).clearInterval(this.timer);
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
