import type { StreamHub } from '../hub/hub.js';
import type { StreamState, AdmissionGate } from '../stream/contracts.js';
import { END_REASONS, Frame } from './protocol.js';
import type { WorkerRpc } from './rpc.js';
import { TS_PACKET_SIZE } from '../ts/packet.js';

/**
 * A stream as a worker sees it: its own hub (and clients), fed by the primary's data pipe;
 * availability and upstream events come from the primary too.
 */
export class RemoteStream implements StreamState {
  private up = false;
  private off = false;

  constructor(
    readonly index: number,
    readonly name: string,
    readonly hub: StreamHub,
    readonly ondemand: boolean,
    private readonly rpc: WorkerRpc,
  ) {}

  get available(): boolean { return this.up && !this.off; }

  demand(): Promise<boolean> {
    return this.rpc.demand(this.index).then((ok) => {
      if (!ok || this.available) return ok && this.available;
      // The reply (IPC) can overtake the state frame (data pipe): wait briefly for it.
      return new Promise<boolean>((resolve) => {
        const t = setTimeout(() => { this.stateWaiters.delete(check); resolve(this.available); }, 2000);
        const check = () => { if (this.available) { clearTimeout(t); this.stateWaiters.delete(check); resolve(true); } };
        this.stateWaiters.add(check);
      });
    });
  }

  private readonly stateWaiters = new Set<() => void>();

  viewerJoined(): void { this.rpc.viewer(this.index, 1); }
  viewerLeft(): void { this.rpc.viewer(this.index, -1); }

  /** A frame for this stream from the primary. */
  onFrame(type: Frame, arg: number, payload: Buffer): void {
    switch (type) {
      case Frame.Data: this.hub.push(payload, 0, payload.length / TS_PACKET_SIZE); break;
      case Frame.Lost: this.hub.upstreamLost(); break;
      case Frame.Resumed: this.hub.upstreamResumed(); break;
      case Frame.End: this.hub.endAll((END_REASONS[arg] ?? 'upstream_lost')); break;
      case Frame.State:
        this.up = (arg & 1) !== 0;
        this.off = (arg & 2) !== 0;
        for (const w of [...this.stateWaiters]) w();
        break;
    }
  }
}

/** The hard limit, decided by the primary (one counter for all workers: exact). */
export class RemoteAdmission implements AdmissionGate {
  constructor(private readonly rpc: WorkerRpc) {}
  acquire(): Promise<boolean> { return this.rpc.acquire(); }
  release(): void { this.rpc.release(); }
}
