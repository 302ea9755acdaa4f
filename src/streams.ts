import type { Logger } from './log/logger.js';
import { EVT } from './log/logger.js';
import type { Config, ResourceConfig } from './config/schema.js';
import { TsAligner } from './ts/aligner.js';
import { StreamHub } from './hub/hub.js';
import { Supervisor } from './sources/supervisor.js';
import type { StreamState } from './http/stream.js';

/**
 * One stream resource: supervisor (upstream failover) -> aligner -> hub (fan-out).
 * Owns the online/offline state seen by the endpoint and the APIs.
 */
export class Stream implements StreamState {
  readonly name: string;
  readonly hub: StreamHub;
  readonly aligner: TsAligner;
  readonly supervisor: Supervisor;
  /** Set by the control API: clients are refused while true. */
  private adminOffline = false;
  private upstreamUp = false;
  private readonly log: Logger;

  constructor(res: ResourceConfig, cfg: Config, log: Logger) {
    this.name = res.serve;
    this.log = log.child({ stream: res.serve });
    this.hub = new StreamHub({
      outputBufferPackets: cfg.outputbuffer,
      ringPackets: cfg.inputbuffer,
      batchMs: cfg.batchms,
    });
    this.aligner = new TsAligner((buf, off, n) => this.hub.push(buf, off, n));
    const remotes = [...(res.remote ? [res.remote] : []), ...res.remotes];
    this.supervisor = new Supervisor({
      stream: res.serve,
      remotes,
      reconnectS: cfg.reconnect,
      timeoutS: cfg.timeout,
      readTimeoutS: cfg.readtimeout,
      inputBufferPackets: cfg.inputbuffer,
      options: { mru: res.mru, clientInterface: res.clientinterface || undefined },
      log: this.log,
      onData: (chunk) => this.aligner.push(chunk),
      onConnected: () => {
        this.aligner.reset();
        this.upstreamUp = true;
      },
      onDisconnected: () => {
        this.upstreamUp = false;
        this.hub.flush();
        // The original's behaviour: losing the upstream ends every client's response.
        this.hub.endAll('upstream_lost');
      },
    });
  }

  get available(): boolean { return this.upstreamUp && !this.adminOffline; }
  get connected(): boolean { return this.upstreamUp; }
  get offline(): boolean { return this.adminOffline; }

  /** Control API: offline ends every client and refuses new ones; online allows them again. */
  setOffline(offline: boolean): void {
    if (offline === this.adminOffline) return;
    this.adminOffline = offline;
    this.log.info({ evt: EVT.upstreamInfo, offline }, offline ? 'stream set offline' : 'stream set online');
    if (offline) this.hub.endAll('offline');
  }

  start(): void { this.supervisor.start(); }

  close(): void {
    this.supervisor.close();
    this.hub.close();
  }
}
