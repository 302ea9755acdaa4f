// Hub client sinks for unit tests.
import type { ClientSink, EndReason } from '../../src/hub/hub.js';
import type { FakeClock } from './clock.js';

/**
 * A sink whose every write keeps the event loop busy for `cost.ms` of the fake clock's
 * time (a client on a busy machine): flushes get expensive and the loop busy. Change
 * `cost.ms` to make it cheap again.
 */
export function busySink(cost: { ms: number }, clock: FakeClock): ClientSink & { writes: number } {
  return {
    framing: 'raw', writes: 0,
    write(): boolean { this.writes++; clock.work(cost.ms); return true; },
    end: () => {},
  };
}

/** A raw sink that keeps every write; `accept = false` makes it report backpressure. */
export class RecordingSink implements ClientSink {
  readonly framing = 'raw' as const;
  chunks: Buffer[] = [];
  accept = true;
  ended: EndReason | undefined;
  write(b: Buffer): boolean { this.chunks.push(b); return this.accept; }
  end(r: EndReason): void { this.ended = r; }
  /** Everything written, in one buffer. */
  all(): Buffer { return Buffer.concat(this.chunks); }
}
