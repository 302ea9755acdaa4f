import type { Config, ResourceConfig } from '../config/schema.js';
import { StreamHub, type HubOptions } from './hub.js';

/**
 * The hub of one stream resource, with the options every role gives it: a single
 * process's Stream and a worker's RemoteStream both build theirs here, so a new hub
 * option is passed in one place.
 */
export function createHub(cfg: Config, res: ResourceConfig, extra: Pick<HubOptions, 'maxRingBytes'> = {}): StreamHub {
  return new StreamHub({
    outputBufferPackets: cfg.outputbuffer,
    ringPackets: cfg.inputbuffer,
    batchMs: cfg.batchms,
    maxBatchMs: cfg.batchmaxms ?? undefined,
    deferBursts: true,
    start: res.start,
    slowTimeoutMs: cfg.slowtimeout * 1000,
    ...extra,
  });
}
