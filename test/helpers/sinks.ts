// Hub client sinks for unit tests.
import type { ClientSink } from '../../src/hub/hub.js';

/**
 * A sink whose every write takes `cost.ms` of wall time (a client on a busy machine):
 * flushes get expensive and the event loop busy. Change `cost.ms` to make it cheap again.
 */
export function busySink(cost: { ms: number }): ClientSink & { writes: number } {
  return {
    framing: 'raw', writes: 0,
    write(): boolean { this.writes++; const end = performance.now() + cost.ms; while (performance.now() < end); return true; },
    end: () => {},
  };
}

export function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }
