// A fake hub clock for unit tests: time moves only when a test moves it, so nothing sleeps.
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { Clock, TimerHandle } from '../../src/hub/clock.js';

interface Timer { at: number; fn: () => void; every: number }

/**
 * Time passes in two ways: `tick(ms)` while the event loop is idle (timers that come due
 * fire, in order), `work(ms)` while it is busy (a slow write; no timer can fire meanwhile,
 * as on a real loop). The event-loop utilisation is what these make it.
 */
export class FakeClock implements Clock {
  private t: number;
  private activeMs = 0;
  private nextId = 1;
  private readonly timers = new Map<number, Timer>();

  constructor(start = 1_000_000) { this.t = start; }

  now(): number { return this.t; }
  monotonic(): number { return this.t; }

  eventLoopUtilization(current?: EventLoopUtilization, previous?: EventLoopUtilization): EventLoopUtilization {
    if (current && previous) {
      const active = current.active - previous.active;
      const idle = current.idle - previous.idle;
      return { active, idle, utilization: active + idle > 0 ? active / (active + idle) : 0 };
    }
    const idle = this.t - this.activeMs;
    return { active: this.activeMs, idle, utilization: this.t > 0 ? this.activeMs / this.t : 0 };
  }

  setTimeout(fn: () => void, ms: number): TimerHandle { return this.add(fn, ms, 0); }
  setInterval(fn: () => void, ms: number): TimerHandle { return this.add(fn, ms, Math.max(1, ms)); }
  clearTimeout(t: TimerHandle): void { this.timers.delete(t as number); }
  clearInterval(t: TimerHandle): void { this.timers.delete(t as number); }

  /** Timers waiting to fire. */
  get pending(): number { return this.timers.size; }

  /** The loop is busy for `ms` (CPU work in this callback): time passes, no timer fires. */
  work(ms: number): void {
    this.t += ms;
    this.activeMs += ms;
  }

  /** The loop is idle for `ms`: timers fire as they come due, in order (as a 1 ms-resolution Node timer: never early). */
  tick(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, Timer] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      const [id, timer] = next;
      this.t = Math.max(this.t, timer.at);
      if (timer.every > 0) timer.at += timer.every;
      else this.timers.delete(id);
      timer.fn();
    }
    this.t = end;
  }

  private add(fn: () => void, ms: number, every: number): number {
    const id = this.nextId++;
    // Node runs a timer of less than 1 ms after 1 ms.
    this.timers.set(id, { at: this.t + Math.max(1, ms), fn, every });
    return id;
  }
}
