import { EVT, type Logger } from '../log/logger.js';
import { redactUrl } from '../log/redact.js';
import { INDICATORS, priorityOf } from '../ts/alarms.js';
import { Tr101290, type AlarmEvent, type Indicator } from '../ts/tr101290.js';
import type { ResourceConfig } from '../config/schema.js';
import type { StreamAlarm, StreamHealthView } from './contracts.js';

// The health checks of one stream's upstream (docs/health.md): a TR 101 290 checker per
// upstream connection, fed by the Stream's aligner once per chunk with the Stream's
// clock. Turns the checker's raises and clears into log lines and StreamAlarm events
// (webhooks, the failover policy), and keeps the error counts over every connection of
// the stream (the Prometheus counters must never go down).

export type AlarmSubscriber = (e: StreamAlarm) => void;

/** The thresholds of a stream's checker, from its keys (seconds and ms). */
function thresholdsOf(res: Pick<ResourceConfig, 'pidtimeout' | 'pcrinterval' | 'alarmclear'>): { pidTimeoutMs: number; pcrIntervalMs: number; alarmClearMs: number } {
  return { pidTimeoutMs: res.pidtimeout * 1000, pcrIntervalMs: res.pcrinterval, alarmClearMs: res.alarmclear * 1000 };
}

export class StreamHealth implements StreamHealthView {
  private checker: Tr101290 | undefined;
  private remote = '';
  /** Errors counted by the checkers of connections that ended. */
  private readonly past = new Float64Array(INDICATORS.length);
  private readonly subscribers = new Set<AlarmSubscriber>();
  /** The time of the chunk being aligned (read once per chunk, never per packet). */
  private now = 0;
  /** Raised indicators that drive failover (priority 1, or listed in `failoveron`). */
  private readonly triggers = new Set<Indicator>();

  constructor(
    private readonly stream: string,
    private readonly res: Pick<ResourceConfig, 'pidtimeout' | 'pcrinterval' | 'alarmclear' | 'failoveron'>,
    private readonly log: Logger,
    /** The first failover trigger raised, or the last one cleared (then undefined). */
    private readonly onTrigger: (indicator: Indicator | undefined) => void,
  ) {}

  /** The indicators raised now (on the connection in use). */
  get alarms(): Indicator[] { return this.checker?.alarms ?? []; }

  /** A priority-1 alarm is raised on the connection in use. */
  get priority1(): boolean { return this.alarms.some((i) => priorityOf(i) === 1); }

  /** Errors per indicator over every connection of the stream (monotonic). */
  counts(): Record<Indicator, number> {
    const out = {} as Record<Indicator, number>;
    const c = this.checker;
    INDICATORS.forEach((name, i) => { out[name] = this.past[i]! + (c ? c.count(name) : 0); });
    return out;
  }

  /** Hear every raise and clear (webhooks); returns the unsubscribe. */
  subscribe(fn: AlarmSubscriber): () => void {
    this.subscribers.add(fn);
    return () => { this.subscribers.delete(fn); };
  }

  /** A new upstream connection: a fresh checker (nothing of the previous one's state carries over). */
  begin(url: string, nowMs: number): void {
    this.end();
    this.remote = redactUrl(url);
    this.now = nowMs;
    this.checker = new Tr101290({ ...thresholdsOf(this.res), onAlarm: (e) => { this.transition(e); } });
  }

  /** The connection ended: its raised alarms clear (said so), its counts are kept. */
  end(): void {
    const c = this.checker;
    if (!c) return;
    this.checker = undefined;
    INDICATORS.forEach((name, i) => { this.past[i] = this.past[i]! + c.count(name); });
    for (const indicator of c.alarms) this.transition({ indicator, raised: false, priority: priorityOf(indicator), atMs: this.now, count: c.count(indicator) }, 'connection ended');
  }

  /** Before a chunk is aligned: the time its packets arrived. */
  chunk(nowMs: number): void { this.now = nowMs; }

  push(buf: Buffer, offset: number, count: number): void { this.checker?.push(buf, offset, count, this.now); }

  /** The aligner's sync break (SyncBreakListener). */
  syncBreak(lost: boolean): void {
    if (lost) this.checker?.syncLoss(this.now);
    else this.checker?.syncByteErrors(1, this.now);
  }

  private transition(e: AlarmEvent, why?: string): void {
    const fields = { evt: e.raised ? EVT.alarmRaised : EVT.alarmCleared, indicator: e.indicator, priority: e.priority, count: e.count, remote: this.remote, ...(why ? { why } : {}) };
    if (e.raised) this.log.warn(fields, `alarm raised: ${e.indicator}`);
    else this.log.info(fields, `alarm cleared: ${e.indicator}${why ? ` (${why})` : ''}`);
    const alarm: StreamAlarm = { stream: this.stream, indicator: e.indicator, raised: e.raised, priority: e.priority, remote: this.remote };
    for (const fn of this.subscribers) {
      try { fn(alarm); } catch { /* a subscriber's failure is its own; the checks go on */ }
    }
    this.trigger(e);
  }

  private trigger(e: AlarmEvent): void {
    if (e.priority !== 1 && !this.res.failoveron.includes(e.indicator)) return;
    const before = this.triggers.size;
    if (e.raised) this.triggers.add(e.indicator);
    else this.triggers.delete(e.indicator);
    if (before === 0 && this.triggers.size > 0) this.onTrigger(e.indicator);
    else if (before > 0 && this.triggers.size === 0) this.onTrigger(undefined);
  }
}
