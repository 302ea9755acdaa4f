import http from 'node:http';
import https from 'node:https';
import { authorizationHeader, type Userlist } from '../auth/auth.js';
import { authUsers, type NotificationConfig } from '../config/schema.js';
import { EVT, type Logger } from '../log/logger.js';
import { FaultLog } from '../log/faults.js';
import { redactUrl } from '../log/redact.js';
import { systemClock, type Clock, type TimerHandle } from '../hub/clock.js';

// URL notifications (the original's `notifications`): a GET to each configured URL when
// limit_hit, limit_miss or heartbeat happens. Unlike the original, whose handler ran the
// request inline on its event goroutine, nothing here ever waits for a receiver: every
// request is asynchronous, bounded in time and in number, and dropped rather than queued.
// Alarm events (alarm_raised, alarm_cleared: docs/health.md) are the exception to the
// cap: a raise or a clear is never dropped. They need no cap, being few by nature (one
// per raise or clear of an indicator, which has hysteresis) and each bounded in time.

export type NotifyEvent = NotificationConfig['event'];
/** Query parameters an event adds to the URL (alarms: stream, indicator, remote). */
export type NotifyParams = Readonly<Record<string, string>>;

export interface NotifierOptions {
  notifications: NotificationConfig[];
  userlist: Userlist;
  /** Seconds between heartbeats; 0 = no heartbeat. */
  heartbeatIntervalS: number;
  log: Logger;
  /** Deadline for one request, connect to end of body, ms (default 5000). */
  timeoutMs?: number;
  /** Time for the heartbeat, request deadlines, retries and the failure summary (default: the system's). */
  clock?: Clock;
}

interface Target {
  event: NotifyEvent;
  url: URL;
  display: string;
  headers: Record<string, string>;
  inFlight: number;
}

type Done = (err: Error | undefined, retryable: boolean) => void;

const DEFAULT_TIMEOUT_MS = 5000;
/** Requests (including retries waiting for their turn) per URL before new events are dropped. */
const MAX_IN_FLIGHT = 4;
const RETRIES = 1;
const RETRY_BACKOFF_MS = 500;

export class Notifier {
  /** sent: answered 2xx/3xx; failed: gave up after retries; dropped: too many in flight. */
  readonly stats = { sent: 0, failed: 0, dropped: 0 };
  private readonly targets: Target[] = [];
  private readonly log: Logger;
  private readonly faults: FaultLog;
  private readonly timeoutMs: number;
  private readonly heartbeatMs: number;
  // Private agents without keep-alive: close() can destroy every socket we own.
  private readonly httpAgent = new http.Agent({ keepAlive: false });
  private readonly httpsAgent = new https.Agent({ keepAlive: false });
  private readonly pending = new Set<http.ClientRequest>();
  private readonly retryTimers = new Set<TimerHandle>();
  private readonly clock: Clock;
  private heartbeat: TimerHandle | undefined;
  private closed = false;

  constructor(o: NotifierOptions) {
    this.log = o.log;
    const clock = o.clock ?? systemClock;
    this.clock = clock;
    this.faults = new FaultLog(o.log, undefined, () => clock.now());
    this.timeoutMs = o.timeoutMs && o.timeoutMs > 0 ? o.timeoutMs : DEFAULT_TIMEOUT_MS;
    this.heartbeatMs = Math.max(0, o.heartbeatIntervalS) * 1000;
    for (const n of o.notifications) {
      const t = this.target(n, o.userlist);
      if (t) this.targets.push(t);
    }
  }

  /** Start the heartbeat timer, if a heartbeat notification exists. Idempotent. */
  start(): void {
    if (this.closed || this.heartbeat !== undefined || this.heartbeatMs <= 0) return;
    if (!this.targets.some((t) => t.event === 'heartbeat')) return;
    this.heartbeat = unref(this.clock.setInterval(() => this.emit('heartbeat'), this.heartbeatMs));
  }

  /** Fire and forget: returns at once; receivers are contacted in the background. */
  emit(event: NotifyEvent, params?: NotifyParams): void {
    if (this.closed) return;
    const uncapped = event === 'alarm_raised' || event === 'alarm_cleared';
    for (const target of this.targets) {
      if (target.event !== event) continue;
      const t = params ? withParams(target, params) : target;
      if (t.inFlight >= MAX_IN_FLIGHT && !uncapped) {
        this.stats.dropped++;
        this.noteFailure(t, new Error(`${MAX_IN_FLIGHT} notifications still in flight; this one is dropped`));
        continue;
      }
      t.inFlight++;
      this.attempt(t, 0);
    }
  }

  /** Idempotent: stops the heartbeat and retries, aborts requests in flight. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat !== undefined) this.clock.clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    for (const timer of this.retryTimers) this.clock.clearTimeout(timer);
    this.retryTimers.clear();
    for (const req of this.pending) req.destroy();
    this.pending.clear();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private target(n: NotificationConfig, userlist: Userlist): Target | undefined {
    let url: URL;
    try {
      url = new URL(n.url);
    } catch {
      this.log.warn({ evt: EVT.warning, event: n.event, url: redactUrl(n.url) }, 'notification ignored: invalid URL');
      return undefined;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      this.log.warn({ evt: EVT.warning, event: n.event, url: redactUrl(url) }, 'notification ignored: only http and https URLs are supported');
      return undefined;
    }
    const headers: Record<string, string> = { 'user-agent': 'restreamer' };
    const type = n.authentication?.type ?? '';
    if (type !== '') {
      // As in the original, only the first configured user's credentials are sent.
      const user = authUsers(n.authentication)[0];
      const value = authorizationHeader(type, user, userlist);
      if (value) headers.authorization = value;
      else this.log.warn({ evt: EVT.warning, event: n.event, url: redactUrl(url), type, user }, 'notification sent without credentials: unknown authentication type or user');
    }
    return { event: n.event, url, display: redactUrl(url), headers, inFlight: 0 };
  }

  private attempt(t: Target, n: number): void {
    this.request(t, (err, retryable) => {
      if (!err) {
        t.inFlight--;
        this.stats.sent++;
        this.log.debug({ evt: EVT.notify, event: t.event, url: t.display }, 'notification sent');
        return;
      }
      if (retryable && n < RETRIES && !this.closed) {
        const timer = unref(this.clock.setTimeout(() => {
          this.retryTimers.delete(timer);
          this.attempt(t, n + 1);
        }, RETRY_BACKOFF_MS * (n + 1)));
        this.retryTimers.add(timer);
        return;
      }
      t.inFlight--;
      this.stats.failed++;
      this.noteFailure(t, err);
    });
  }

  private request(t: Target, done: Done): void {
    if (this.closed) {
      done(new Error('notifier closed'), false);
      return;
    }
    const https_ = t.url.protocol === 'https:';
    let finished = false;
    // eslint-disable-next-line prefer-const -- finish() reads it, possibly before it is set (a request that cannot be made)
    let timer: TimerHandle | undefined;
    let req: http.ClientRequest | undefined;
    const finish = (err: Error | undefined, retryable: boolean): void => {
      if (finished) return;
      finished = true;
      if (timer !== undefined) this.clock.clearTimeout(timer);
      if (req) this.pending.delete(req);
      done(err, retryable);
    };
    try {
      req = (https_ ? https : http).get(t.url, { headers: t.headers, agent: https_ ? this.httpsAgent : this.httpAgent }, onResponse);
    } catch (e) {
      // e.g. a password with characters not allowed in a header: will never work
      queueMicrotask(() => finish(e as Error, false));
      return;
    }
    const r = req;
    timer = unref(this.clock.setTimeout(() => r.destroy(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs));
    this.pending.add(r);
    r.on('error', (e) => finish(e, !this.closed));

    function onResponse(res: http.IncomingMessage): void {
      const status = res.statusCode ?? 0;
      res.resume(); // the body is of no interest; drain it so the exchange can complete
      res.on('end', () => {
        if (status < 400) finish(undefined, false);
        else finish(new Error(`receiver answered ${status}`), status >= 500);
      });
      res.on('error', (e) => finish(e, true));
      res.on('close', () => finish(new Error('receiver closed the connection before the end of the answer'), true));
    }
  }

  /** Failures are summarised: at most one log line per interval, with a count. */
  private noteFailure(t: Target, err: Error): void {
    if (this.closed) return;
    this.faults.note({ evt: EVT.notifyError, event: t.event, url: t.display, err: err.message }, 'notification failed');
  }
}

/**
 * The target with `params` added to its URL's query; it shares the target's in-flight
 * count (a getter and setter onto it), so the cap still sees every request.
 */
function withParams(t: Target, params: NotifyParams): Target {
  const url = new URL(t.url);
  for (const [k, v] of Object.entries(params)) url.searchParams.append(k, v);
  return {
    event: t.event, url, display: redactUrl(url), headers: t.headers,
    get inFlight() { return t.inFlight; },
    set inFlight(n: number) { t.inFlight = n; },
  };
}

/** Notifications alone must not keep the process alive. */
function unref(t: TimerHandle): TimerHandle {
  if (typeof t === 'object') t.unref();
  return t;
}
