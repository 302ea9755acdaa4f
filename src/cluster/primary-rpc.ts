import type { Clock, TimerHandle } from '../hub/clock.js';
import type { Stream } from '../stream/stream.js';
import type { WorkerCounters } from './counters.js';
import type { PoolWorker } from './pool.js';
import type { PrimaryMessage, WorkerMessage } from './protocol.js';
import type { SlotTable } from './slots.js';

/** How long an API answer waits for the workers' fresh counters, ms. */
const COLLECT_TIMEOUT_MS = 500;

/** What the workers' requests are answered from: the configuration running here. */
export interface RpcHost {
  /** The hard limit, one counter for every worker's viewers. */
  readonly admission: { tryAcquire(): boolean; release(): void };
  /** The streams running here (upstream side), by serve path. */
  readonly streams: ReadonlyMap<string, Stream>;
}

/** The requests and reports a worker sends (src/cluster/rpc.ts is the other end). */
export type RpcMessage = Extract<WorkerMessage, { t: 'acquire' | 'release' | 'viewer' | 'demand' | 'counters' }>;

/**
 * The primary's side of the IPC channel, twin of the worker's WorkerRpc: answers
 * admission and on-demand requests from the configuration running here, keeps each
 * worker's viewers and admission slots (given back when it exits), and collects the
 * workers' counters.
 */
export class PrimaryRpc {
  private closed = false;
  private collectSeq = 0;
  private readonly collects = new Map<number, { left: Set<number>; done: () => void }>();

  constructor(
    private readonly host: () => RpcHost,
    private readonly slots: SlotTable,
    private readonly counters: WorkerCounters,
    private readonly send: (w: PoolWorker, m: PrimaryMessage) => void,
    private readonly clock: Clock,
  ) {}

  onMessage(w: PoolWorker, m: RpcMessage): void {
    switch (m.t) {
      case 'acquire': {
        const ok = !this.closed && this.host().admission.tryAcquire();
        if (ok) w.admitted++;
        this.send(w, { t: 'acquired', id: m.id, ok });
        break;
      }
      case 'release':
        if (w.admitted > 0) { w.admitted--; this.host().admission.release(); }
        break;
      case 'viewer': {
        if (!this.slots.has(m.stream)) break;
        const s = this.streamAt(m.stream);
        w.viewers[m.stream] = Math.max(0, (w.viewers[m.stream] ?? 0) + m.delta);
        if (m.delta > 0) s?.viewerJoined(); else s?.viewerLeft();
        break;
      }
      case 'demand': {
        const s = this.streamAt(m.stream);
        void (s ? s.demand() : Promise.resolve(false)).then((ok) => { this.send(w, { t: 'demanded', id: m.id, ok }); });
        break;
      }
      case 'counters':
        this.counters.update(w.id, m.streams);
        if (m.id !== undefined) this.answered(this.collects.get(m.id), w.id);
        break;
    }
  }

  /** A worker exited: its clients are gone, so are their admission slots and viewers. */
  workerGone(w: PoolWorker): void {
    this.counters.retire(w.id);
    const admission = this.host().admission;
    for (let i = 0; i < w.admitted; i++) admission.release();
    w.viewers.forEach((n, slot) => { const s = this.streamAt(slot); for (let k = 0; k < n; k++) s?.viewerLeft(); });
    for (const c of this.collects.values()) this.answered(c, w.id);
  }

  /** Fresh counters from `workers` (before an API answer); bounded wait. */
  collect(workers: readonly PoolWorker[]): Promise<void> {
    const live = workers.filter((w) => w.worker.isConnected());
    if (live.length === 0) return Promise.resolve();
    const id = ++this.collectSeq;
    return new Promise<void>((resolve) => {
      let t: TimerHandle | undefined = undefined;
      const done = () => { this.clock.clearTimeout(t!); this.collects.delete(id); resolve(); };
      t = this.clock.setTimeout(done, COLLECT_TIMEOUT_MS);
      this.collects.set(id, { left: new Set(live.map((w) => w.id)), done });
      for (const w of live) this.send(w, { t: 'collect', id });
    });
  }

  /** Shutting down: no more admissions. */
  close(): void { this.closed = true; }

  /** The stream in `slot`, if it runs. */
  private streamAt(slot: unknown): Stream | undefined {
    const name = this.slots.nameAt(slot);
    return name === undefined ? undefined : this.host().streams.get(name);
  }

  private answered(c: { left: Set<number>; done: () => void } | undefined, worker: number): void {
    if (!c) return;
    c.left.delete(worker);
    if (c.left.size === 0) c.done();
  }
}
