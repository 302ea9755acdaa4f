// Hub client sinks for unit tests.
import type { ClientSink } from '../../src/hub/hub.js';
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
