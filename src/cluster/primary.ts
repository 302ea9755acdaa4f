import cluster, { type Worker } from 'node:cluster';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Logger } from '../log/logger.js';
import { EVT } from '../log/logger.js';
import type { Config } from '../config/schema.js';
import { App } from '../app.js';
import { WorkerPipes, type WorkerPipe } from './fanout.js';
import { DATA_FD, type PrimaryMessage, type WorkerMessage, type WorkerStreamCounters } from './protocol.js';
import { WorkerCounters } from './counters.js';
import { NODE_FLAGS } from '../node-flags.js';

/** Environment handed to workers (they get the primary's argv, so the same config path). */
export const ENV_API_SOCKET = 'RESTREAMER_API_SOCKET';

/** A worker that dies sooner than this after its start is restarted only after a pause. */
const RESTART_BACKOFF_MS = 1000;
const COLLECT_TIMEOUT_MS = 500;

interface WorkerState extends WorkerPipe {
  worker: Worker;
  startedAt: number;
  slots: number;
  listening: boolean;
}

/**
 * Multi-process mode, primary side: pulls every upstream exactly once (the Stream
 * supervisors live here), feeds each worker's hubs through a data pipe, decides
 * admission for all workers (exact hard limit), aggregates the workers' counters for
 * the APIs (served here on an internal socket; workers forward API requests), and
 * replaces workers that die.
 */
export class Primary {
  readonly app: App;
  private readonly pipes: WorkerPipes;
  private readonly counters: WorkerCounters;
  private readonly workers = new Map<number, WorkerState>();
  private readonly streamNames: string[];
  private readonly dir = mkdtempSync(join(tmpdir(), 'restreamer-'));
  private readonly apiSocket = join(this.dir, 'api.sock');
  private stopping = false;
  private listenedResolve!: (addr: { address: string; port: number; family: string }) => void;
  private listenedReject!: (e: Error) => void;
  private collectSeq = 0;
  private readonly collects = new Map<number, { left: Set<number>; done: () => void }>();

  constructor(readonly cfg: Config, private readonly log: Logger, readonly workerCount: number) {
    this.streamNames = cfg.resources.filter((r) => r.type === 'stream').map((r) => r.serve);
    this.pipes = new WorkerPipes(this.streamNames.length);
    this.counters = new WorkerCounters(this.streamNames.length);
    this.app = new App(cfg, log, {
      role: 'primary',
      mirror: (i) => this.pipes.mirror(i),
      counters: this.counters,
      refresh: () => this.collect(),
    });
  }

  /** Start upstreams and workers; resolves once every worker listens. */
  async start(): Promise<{ address: string; port: number; family: string }> {
    await this.app.startInternal(this.apiSocket);
    const listened = new Promise<{ address: string; port: number; family: string }>((res, rej) => {
      this.listenedResolve = res;
      this.listenedReject = rej;
    });
    const flags = NODE_FLAGS.filter((f) => !process.execArgv.includes(f));
    cluster.setupPrimary({ stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'], execArgv: [...process.execArgv, ...flags] });
    cluster.on('exit', (w, code, signal) => this.onExit(w, code, signal));
    for (let i = 0; i < this.workerCount; i++) this.fork();
    const addr = await listened;
    this.app.startUpstreams();
    return addr;
  }

  /** SIGHUP: reopen our log and tell the workers to reopen theirs. */
  reopenLogs(): void {
    for (const w of this.workers.values()) this.send(w, { t: 'reopen' });
  }

  /** Stop workers (they end their clients), then upstreams. Resolves when all exited. */
  async close(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const exits = [...this.workers.values()].map((w) => new Promise<void>((res) => {
      if (w.worker.isDead()) return res();
      w.worker.once('exit', () => res());
      this.send(w, { t: 'shutdown' });
    }));
    const timeout = new Promise<void>((res) => setTimeout(res, 1500).unref());
    await Promise.race([Promise.all(exits), timeout]);
    for (const w of this.workers.values()) if (!w.worker.isDead()) w.worker.process.kill('SIGKILL');
    this.pipes.close();
    await this.app.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private fork(): void {
    const worker = cluster.fork({ [ENV_API_SOCKET]: this.apiSocket });
    const pipe = worker.process.stdio?.[DATA_FD] as Writable | undefined;
    if (!pipe) throw new Error('worker data pipe missing');
    pipe.on('error', () => { /* worker gone; exit handler cleans up */ });
    const st: WorkerState = {
      id: worker.id, worker, pipe, viewers: this.streamNames.map(() => 0), startedAt: Date.now(), slots: 0, listening: false,
      onStuck: () => {
        this.log.error({ evt: EVT.warning, worker: worker.id }, 'worker not reading its data pipe: restarting it');
        worker.process.kill('SIGKILL');
      },
    };
    this.workers.set(worker.id, st);
    this.pipes.add(st);
    // A new worker learns every stream's availability before any data.
    this.streamNames.forEach((name, i) => {
      const s = this.app.streams.get(name)!;
      this.pipes.state(i, s.connected, s.offline, st);
    });
    worker.on('message', (m: WorkerMessage) => this.onMessage(st, m));
  }

  private onMessage(w: WorkerState, m: WorkerMessage): void {
    switch (m.t) {
      case 'listening':
        if (!w.listening) {
          w.listening = true;
          if ([...this.workers.values()].every((x) => x.listening)) this.listenedResolve({ address: m.address, port: m.port, family: m.family });
        }
        break;
      case 'listen-error':
        this.listenedReject(new Error(m.message));
        break;
      case 'acquire': {
        const ok = !this.stopping && this.app.admission.tryAcquire();
        if (ok) w.slots++;
        this.send(w, { t: 'acquired', id: m.id, ok });
        break;
      }
      case 'release':
        if (w.slots > 0) { w.slots--; this.app.admission.release(); }
        break;
      case 'viewer': {
        const s = this.app.streams.get(this.streamNames[m.stream]!);
        w.viewers[m.stream] = Math.max(0, (w.viewers[m.stream] ?? 0) + m.delta);
        if (m.delta > 0) s?.viewerJoined(); else s?.viewerLeft();
        break;
      }
      case 'demand': {
        const s = this.app.streams.get(this.streamNames[m.stream]!);
        void (s ? s.demand() : Promise.resolve(false)).then((ok) => this.send(w, { t: 'demanded', id: m.id, ok }));
        break;
      }
      case 'counters':
        this.counters.update(w.id, m.streams);
        if (m.id !== undefined) {
          const c = this.collects.get(m.id);
          if (c) { c.left.delete(w.id); if (c.left.size === 0) c.done(); }
        }
        break;
    }
  }

  /** Fresh counters from every worker (before an API answer); bounded wait. */
  private collect(): Promise<void> {
    const live = [...this.workers.values()].filter((w) => w.worker.isConnected());
    if (live.length === 0) return Promise.resolve();
    const id = ++this.collectSeq;
    return new Promise<void>((resolve) => {
      const done = () => { clearTimeout(t); this.collects.delete(id); resolve(); };
      const t = setTimeout(done, COLLECT_TIMEOUT_MS);
      this.collects.set(id, { left: new Set(live.map((w) => w.id)), done });
      for (const w of live) this.send(w, { t: 'collect', id });
    });
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    const w = this.workers.get(worker.id);
    if (!w) return;
    this.workers.delete(worker.id);
    this.pipes.remove(w);
    this.counters.retire(worker.id);
    // Its clients are gone: give back their slots and viewers.
    for (let i = 0; i < w.slots; i++) this.app.admission.release();
    w.viewers.forEach((n, i) => { const s = this.app.streams.get(this.streamNames[i]!); for (let k = 0; k < n; k++) s?.viewerLeft(); });
    for (const c of this.collects.values()) { c.left.delete(worker.id); if (c.left.size === 0) c.done(); }
    if (this.stopping) return;
    this.log.error({ evt: EVT.warning, worker: worker.id, code, signal }, 'worker died: starting a new one');
    const early = Date.now() - w.startedAt < RESTART_BACKOFF_MS;
    setTimeout(() => { if (!this.stopping) this.fork(); }, early ? RESTART_BACKOFF_MS : 0);
  }

  private send(w: WorkerState, m: PrimaryMessage): void {
    try { if (w.worker.isConnected()) w.worker.send(m); } catch { /* worker exiting */ }
  }
}

export type { WorkerStreamCounters };
