import type { ServerResponse } from 'node:http';

// Server-Sent Events for the status page. One timer for all subscribers: each tick builds
// the snapshot once and writes the same bytes to every subscriber. The timer runs only
// while someone listens. A subscriber that does not read gets no more until it drains
// (at most one message queued per subscriber) and is dropped after STUCK_MS.

/** A subscriber whose socket stayed full this long is disconnected. */
const STUCK_MS = 30_000;
/** Earliest gap between two pushes (an action asks for an early push). */
const MIN_GAP_MS = 250;

interface Subscriber { res: ServerResponse; blockedSince: number }

export interface BroadcasterOptions {
  /** The message body (one line of JSON); built once per tick. */
  build: () => Promise<string>;
  intervalMs: number;
  onError?: (err: unknown) => void;
}

export class SnapshotBroadcaster {
  private readonly subs = new Set<Subscriber>();
  private timer: NodeJS.Timeout | undefined;
  private early: NodeJS.Timeout | undefined;
  private building: Promise<void> | undefined;
  private lastPush = 0;
  /** The last message, sent at once to a new subscriber when still fresh. */
  private last: { at: number; frame: Buffer } | undefined;
  private closed = false;
  /** Messages built (for tests and the benchmark: one per tick, however many subscribers). */
  builds = 0;

  constructor(private readonly o: BroadcasterOptions) {}

  get subscribers(): number { return this.subs.size; }

  subscribe(res: ServerResponse): void {
    if (this.closed) { res.writeHead(503, { 'Content-Length': '0' }).end(); return; }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      // nginx would otherwise buffer the stream.
      'X-Accel-Buffering': 'no',
    });
    // Reconnect after 2 s if the connection drops (EventSource's default is ~3 s).
    res.write('retry: 2000\n\n');
    const sub: Subscriber = { res, blockedSince: 0 };
    this.subs.add(sub);
    res.on('drain', () => { sub.blockedSince = 0; });
    res.once('close', () => {
      this.subs.delete(sub);
      if (this.subs.size === 0) this.stopTimer();
    });
    if (this.last && Date.now() - this.last.at < this.o.intervalMs) this.send(sub, this.last.frame, Date.now());
    else this.poke();
    if (!this.timer) {
      this.timer = setInterval(() => { void this.push(); }, this.o.intervalMs);
      this.timer.unref();
    }
  }

  /** Push soon (after an action), but never more often than every MIN_GAP_MS. */
  poke(): void {
    if (this.closed || this.subs.size === 0 || this.early) return;
    const wait = Math.max(0, this.lastPush + MIN_GAP_MS - Date.now());
    this.early = setTimeout(() => { this.early = undefined; void this.push(); }, wait);
    this.early.unref();
  }

  /** End every subscriber and stop. Idempotent. */
  close(): void {
    this.closed = true;
    this.stopTimer();
    for (const s of this.subs) s.res.end();
    this.subs.clear();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.early) clearTimeout(this.early);
    this.timer = undefined;
    this.early = undefined;
  }

  private push(): Promise<void> {
    // One build at a time: a slow build (multi-process refresh) skips ticks, never piles up.
    this.building ??= (async () => {
      try {
        const body = await this.o.build();
        this.builds++;
        const now = Date.now();
        this.lastPush = now;
        const frame = Buffer.from(`data: ${body}\n\n`, 'utf8');
        this.last = { at: now, frame };
        for (const s of this.subs) this.send(s, frame, now);
      } catch (err) {
        this.o.onError?.(err);
      } finally {
        this.building = undefined;
      }
    })();
    return this.building;
  }

  private send(s: Subscriber, frame: Buffer, now: number): void {
    if (s.blockedSince > 0) {
      if (now - s.blockedSince > STUCK_MS) s.res.destroy();
      return;
    }
    if (!s.res.write(frame)) s.blockedSince = now;
  }
}
