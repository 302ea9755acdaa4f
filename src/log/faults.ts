import { EVT, type Logger } from './logger.js';

// House rule 3: repeated faults are counted and summarised in logs periodically, not
// logged one by one. The shapes of fault:
// - FaultSummary: faults counted in plain numbers where they happen (a datagram source's
//   hot path), polled once per interval and logged as what changed since the last line;
//   the first fault of each kind is logged at once.
// - FaultLog: faults that come with their own error (a failed fetch or notification):
//   the first is logged at once, later ones at most once per interval, each line with
//   `failures`, the number of faults since the previous line, itself included.
// - FaultEpisode: a condition that comes and goes (out of file descriptors): one line when
//   it starts, one with its count when it has been quiet for a while.
// - RepeatLog: events worth a line each (a rejected client) until one key floods; then
//   that key's events are counted and summarised once per interval.

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

/** Timer handles as Node's timers or a fake clock return them. */
type TimerId = NodeJS.Timeout | number;

/** The timers a fault log needs: the hub's Clock fits (log/ does not import hub/). */
export interface FaultTimers {
  setInterval(fn: () => void, ms: number): TimerId;
  clearInterval(t: TimerId): void;
}

/** Node's timers, looked up at each call so node:test's mock timers drive them too. */
const nodeTimers: FaultTimers = {
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (t) => { clearInterval(t); },
};

/** A summary timer must never keep the process alive on its own. */
function startUnref(timers: FaultTimers, fn: () => void, ms: number): TimerId {
  const t = timers.setInterval(fn, ms);
  if (typeof t === 'object') t.unref();
  return t;
}

/**
 * A fault that comes in episodes (out of file descriptors, the idle-connection cap):
 * `report(0, detail)` at its first occurrence, the rest only counted, and
 * `report(count, undefined)` once it has not recurred for `quietMs`: two lines per
 * episode, however long it lasts.
 */
export class FaultEpisode {
  private count = 0;
  private seen = 0;
  private timer: TimerId | undefined;

  constructor(
    private readonly quietMs: number,
    private readonly report: (n: number, first: string | undefined) => void,
    private readonly timers: FaultTimers = nodeTimers,
  ) {}

  note(detail = ''): void {
    this.count++;
    this.seen++;
    if (this.timer !== undefined) return;
    this.report(0, detail);
    this.timer = startUnref(this.timers, () => this.check(), this.quietMs);
  }

  private check(): void {
    if (this.seen > 0) { this.seen = 0; return; }
    this.stopTimer();
    const n = this.count;
    this.count = 0;
    this.report(n, undefined);
  }

  private stopTimer(): void {
    if (this.timer !== undefined) this.timers.clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Stop without a closing report. Idempotent. */
  close(): void {
    this.stopTimer();
  }
}

export interface RepeatLogOptions {
  /** Level of every line, summaries included. */
  level: 'info' | 'warn';
  /** Lines per key before its events are only counted. */
  burst: number;
  /** How often a flooding key's count is logged; a key quiet this long is forgotten. */
  intervalMs?: number;
  timers?: FaultTimers;
}

interface Repeats {
  lines: number;
  /** Events counted, not logged, since the last summary. */
  repeats: number;
  /** An event since the last sweep. */
  active: boolean;
  /** The last event's line, which the summary repeats with its count. */
  fields: Record<string, unknown>;
  msg: string;
}

/**
 * Events that are logged one line each (a rejected client), unless one key (an address)
 * floods: after `burst` lines the key's events are only counted, and each interval one
 * line carries the count (`repeats`) with the last event's fields. A key quiet for a whole
 * interval is forgotten (its next event has a line again), so the memory held follows the
 * keys active now, not the history.
 */
export class RepeatLog {
  private readonly keys = new Map<string, Repeats>();
  private readonly intervalMs: number;
  private readonly timers: FaultTimers;
  private timer: TimerId | undefined;

  constructor(private readonly log: Logger, private readonly o: RepeatLogOptions) {
    this.intervalMs = o.intervalMs ?? FAULT_SUMMARY_MS;
    this.timers = o.timers ?? nodeTimers;
  }

  note(key: string, fields: Record<string, unknown>, msg: string): void {
    let r = this.keys.get(key);
    if (r === undefined) {
      r = { lines: 0, repeats: 0, active: true, fields, msg };
      this.keys.set(key, r);
      this.timer ??= startUnref(this.timers, () => this.sweep(), this.intervalMs);
    }
    r.active = true;
    if (r.lines < this.o.burst) {
      r.lines++;
      this.log[this.o.level](fields, msg);
      return;
    }
    r.repeats++;
    r.fields = fields;
    r.msg = msg;
  }

  private sweep(): void {
    for (const [key, r] of this.keys) {
      if (!r.active) { this.keys.delete(key); continue; }
      r.active = false;
      this.summarise(r);
    }
    if (this.keys.size === 0) this.stopTimer();
  }

  private summarise(r: Repeats): void {
    if (r.repeats === 0) return;
    this.log[this.o.level]({ ...r.fields, repeats: r.repeats }, `${r.msg} (and ${r.repeats} more like it, not logged one by one)`);
    r.repeats = 0;
  }

  private stopTimer(): void {
    if (this.timer !== undefined) this.timers.clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Log the counts still pending and stop. Idempotent. */
  close(): void {
    for (const r of this.keys.values()) this.summarise(r);
    this.keys.clear();
    this.stopTimer();
  }
}
