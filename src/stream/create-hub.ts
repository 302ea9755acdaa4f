import type { Config, ResourceConfig } from '../config/schema.js';
import { StreamHub } from '../hub/hub.js';
import { systemClock, type Clock } from '../hub/clock.js';

/**
 * The hub of one stream resource, where its clients are: a single process's Stream and
 * a worker's RemoteStream both get theirs here, so a new hub option is passed in one
 * place. (A multi-process primary has none: cluster/mirror.ts.)
 */
export function createHub(cfg: Config, res: ResourceConfig, clock: Clock = systemClock): StreamHub {
  return new StreamHub({
    outputBufferPackets: cfg.outputbuffer,
    ringPackets: cfg.inputbuffer,
    batchMs: cfg.batchms,
    maxBatchMs: cfg.batchmaxms ?? undefined,
    deferBursts: true,
    start: res.start,
    slowTimeoutMs: cfg.slowtimeout * 1000,
    clock,
    ...(res.hls === undefined ? {} : {
      hls: { segmentS: res.hlssegment, window: res.hlswindow, playlistName: res.hls.slice(res.hls.lastIndexOf('/') + 1) },
    }),
  });
}
