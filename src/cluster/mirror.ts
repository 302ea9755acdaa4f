import { StreamAnalyzer } from '../ts/analyzer.js';
import type { EndReason } from '../hub/hub.js';
import type { RelayOutput } from '../stream/contracts.js';
import type { WorkerPipes } from './fanout.js';

/**
 * A stream's output in a multi-process primary: its clients are all in the workers, so
 * nothing is kept here (no ring, no clients). The packets are analysed and counted (for
 * statistics, metrics and the status page) and go, with every upstream event, to the
 * workers' hubs through the data pipes.
 */
export class MirrorOutput implements RelayOutput {
  readonly kind = 'relay';
  readonly analyzer = new StreamAnalyzer();
  packetsIn = 0;
  /** Data has arrived since the current upstream session began. */
  private sessionOpen = false;
  private closed = false;

  constructor(private readonly pipes: WorkerPipes, private readonly slot: number) {}

  /** Viewers in all workers. */
  get clientCount(): number { return this.pipes.viewers(this.slot); }

  push(buf: Buffer, offset: number, count: number): void {
    if (!this.closed) {
      this.sessionOpen = true;
      this.analyzer.scan(buf, offset, count, this.packetsIn);
      this.packetsIn += count;
    }
    this.pipes.data(this.slot, buf, offset, count);
  }

  flush(): void {
    // Nothing to do: the pipes batch on their own; an event sends the batch before it.
  }

  upstreamLost(): void {
    this.endSession();
    this.pipes.lost(this.slot);
  }

  upstreamResumed(): void {
    this.endSession();
    this.pipes.resumed(this.slot);
  }

  endAll(reason: EndReason): void {
    if (reason === 'upstream_lost') this.endSession();
    this.pipes.end(this.slot, reason);
  }

  state(up: boolean, offline: boolean): void {
    this.pipes.state(this.slot, up, offline);
  }

  /** The stream closes: nothing more is analysed (the workers' hubs close with their configuration). */
  close(): void { this.closed = true; }

  /**
   * The upstream session ended: forget its tables and keyframes (as a hub does), so the
   * statistics describe the next session only. Idempotent until new data arrives.
   */
  private endSession(): void {
    if (!this.sessionOpen) return;
    this.sessionOpen = false;
    this.analyzer.reset();
  }
}
