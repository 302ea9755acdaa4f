import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** A timer handle as the clock's setTimeout/setInterval return it (Node's, or a fake clock's id). */
export type TimerHandle = NodeJS.Timeout | number;

/**
 * Everything the hub knows about time, injected so tests can drive it (node:test mock timers
 * or a fake clock). Called per flush, per batch or per client event, never per packet.
 */
export interface Clock {
  /** Wall-clock time, ms since the epoch (Date.now): client start, waits, timeouts. */
  now(): number;
  /** Monotonic time with sub-millisecond resolution, ms (performance.now): how long a flush takes. */
  monotonic(): number;
  /** performance.eventLoopUtilization(): how busy the event loop was between two readings. */
  eventLoopUtilization(current?: EventLoopUtilization, previous?: EventLoopUtilization): EventLoopUtilization;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(t: TimerHandle): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(t: TimerHandle): void;
}

/**
 * The real clock. Each call looks the global up when it is made, so node:test's
 * `mock.timers` (setTimeout, setInterval, Date) also drives a hub built without a clock.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  eventLoopUtilization: (current, previous) => performance.eventLoopUtilization(current, previous),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => { clearTimeout(t); },
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (t) => { clearInterval(t); },
};

/**
 * Lets the process exit while `t` is pending (for background timers: summaries, samples).
 * A fake clock's numeric handle holds nothing open.
 */
export function unrefTimer(t: TimerHandle): TimerHandle {
  if (typeof t === 'object') t.unref();
  return t;
}
