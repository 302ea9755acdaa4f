import type { Clock, TimerHandle } from '../hub/clock.js';
import type { Indicator } from '../ts/alarms.js';

// Failover on health (`"failover": "health"`, docs/health.md): when to leave a remote whose
// stream is broken while its bytes still flow, and which remote to try next. The Stream
// reports its failover trigger (a priority-1 alarm, or one in `failoveron`) raised or
// cleared; the supervisor (supervisor.ts) asks which remote comes next and is told to
// switch. Rules:
// - a trigger raised for `alarmtime` switches to the next remote that can be tried, and
//   never sooner than `alarmtime` after the previous switch;
// - a remote whose last run ended with a trigger raised is not tried again for
//   `reconnect` while another one can be; when every other remote is in that state, the
//   stream stays where it is and looks again once the first of them may be retried.
// Time and timers come from the supervisor's clock (monotonic ms).

export interface HealthPolicyOptions {
  /** Remotes, in the order tried (listed order: no shuffle with health failover). */
  count: number;
  alarmTimeMs: number;
  /** `reconnect`: how long a remote whose run ended in alarm is passed over. */
  reconnectMs: number;
  clock: Clock;
  /** Leave the remote in use for remote `to` because `indicator` stayed raised. */
  switchTo(to: number, indicator: Indicator): void;
  /** No switch although the trigger holds: every other remote ended its last run in alarm. */
  stay(indicator: Indicator, retryMs: number): void;
}

export class HealthPolicy {
  /** Per remote: when its last run ended in alarm (monotonic ms), -Infinity if it did not. */
  private readonly endedInAlarm: Float64Array;
  private lastSwitch = -Infinity;
  private trigger: Indicator | undefined;
  private current = -1;
  private timer: TimerHandle | undefined;

  constructor(private readonly o: HealthPolicyOptions) {
    this.endedInAlarm = new Float64Array(o.count).fill(-Infinity);
  }

  /** The trigger on remote `current`'s connection: raised (the indicator) or cleared (undefined). */
  triggered(indicator: Indicator | undefined, current: number): void {
    this.trigger = indicator;
    this.current = current;
    this.cancel();
    if (indicator !== undefined) this.arm(Math.max(this.o.alarmTimeMs, this.lastSwitch + this.o.alarmTimeMs - this.o.clock.monotonic()));
  }

  /** Remote `i`'s run ended (switched away, or its connection lost). */
  ended(i: number): void {
    if (this.trigger !== undefined && i >= 0 && i < this.o.count) this.endedInAlarm[i] = this.o.clock.monotonic();
    this.trigger = undefined;
    this.current = -1;
    this.cancel();
  }

  /** May remote `i` be tried now (its last run did not end in alarm within `reconnect`)? */
  healthy(i: number): boolean {
    return this.o.clock.monotonic() - this.endedInAlarm[i]! >= this.o.reconnectMs;
  }

  /** The remote to try from `from` on, in order: the first healthy one, else `from` itself. */
  next(from: number): number {
    for (let k = 0; k < this.o.count; k++) {
      const i = (from + k) % this.o.count;
      if (this.healthy(i)) return i;
    }
    return from;
  }

  close(): void {
    this.cancel();
  }

  private arm(ms: number): void {
    this.timer = this.o.clock.setTimeout(() => { this.timer = undefined; this.due(); }, ms);
  }

  private cancel(): void {
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The trigger has held for alarmtime (and the last switch is alarmtime ago). */
  private due(): void {
    const indicator = this.trigger;
    if (indicator === undefined) return;
    const n = this.o.count;
    for (let k = 1; k < n; k++) {
      const i = (this.current + k) % n;
      if (!this.healthy(i)) continue;
      this.lastSwitch = this.o.clock.monotonic();
      this.o.switchTo(i, indicator);
      return;
    }
    // Every other remote is in alarm: look again when the first may be retried.
    const now = this.o.clock.monotonic();
    let wait = Infinity;
    for (let i = 0; i < n; i++) if (i !== this.current) wait = Math.min(wait, this.endedInAlarm[i]! + this.o.reconnectMs - now);
    if (wait === Infinity) return; // a single remote: nowhere to go
    wait = Math.max(wait, this.o.alarmTimeMs);
    this.o.stay(indicator, wait);
    this.arm(wait);
  }
}
