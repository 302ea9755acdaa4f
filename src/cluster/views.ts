import type { StreamView } from '../stream/contracts.js';
import type { ResponseCounter } from '../metrics/stats.js';
import type { Stream } from '../stream/stream.js';
import type { WorkerCounters } from './counters.js';

/**
 * A stream as the primary's APIs see it in multi-process mode: the upstream side from the
 * primary's own Stream, the client side summed over the workers.
 */
export function aggregatedView(s: Stream, index: number, counters: WorkerCounters): StreamView {
  return {
    name: s.name,
    get connected() { return s.connected; },
    get offline() { return s.offline; },
    hub: {
      get packetsIn() { return s.hub.packetsIn; },
      get packetsSent() { return counters.packetsSent(index); },
      get packetsDropped() { return counters.packetsDropped(index); },
      get clientCount() { return counters.clients(index); },
      clientMs: () => counters.clientMs(index),
    },
    aligner: s.aligner,
    get currentUrl() { return s.currentUrl; },
    get reconnects() { return s.reconnects; },
    get bytesIn() { return s.bytesIn; },
    analyzer: s.hub.analyzer,
    health: s.health,
  };
}

/** Stream responses by status, summed over the workers (counted there, not here). */
export function aggregatedResponses(index: number, counters: WorkerCounters): ResponseCounter {
  return {
    entries: () => counters.responses(index).entries(),
    add: () => { /* counted in the workers */ },
  };
}
