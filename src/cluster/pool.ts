import cluster, { type Worker } from 'node:cluster';
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { EVT, type Logger } from '../log/logger.js';
import { unrefTimer, type Clock, type TimerHandle } from '../hub/clock.js';
import { NODE_FLAGS } from '../node-flags.js';
import { RestreamerError } from '../errors.js';
import type { WorkerPipe } from './fanout.js';
import type { HandoffTarget } from './handoff.js';
import { DATA_FD, type PrimaryMessage, type WorkerMessage } from './protocol.js';

/** A worker that dies sooner than this after its start is restarted only after a pause, ms. */
const RESTART_BACKOFF_MS = 1000;
/** Heartbeat: the pool pings every worker this often, ms. */
export const PING_MS = 500;
/** A ready worker not heard from (pong, report, anything) for this long is killed and replaced, ms. */
export const UNRESPONSIVE_MS = 3000;
/** A worker silent for this long gets new connections only when no other one can, ms. */
const FRESH_MS = 1200;
/** A worker that is not ready this long after its fork is killed and replaced, ms. */
export const STARTUP_MS = 30000;
/** On close, how long the workers may take to end their clients and exit before they are killed, ms. */
const EXIT_WAIT_MS = 1500;

/** A worker process as the primary keeps it: its pipe, its hand-off state, its heartbeat. */
export interface PoolWorker extends WorkerPipe, HandoffTarget {
  readonly worker: Worker;
  readonly startedAt: number;
  /** Admission slots its clients hold (given back when it exits). */
  admitted: number;
  ready: boolean;
  /** Last message from it (heartbeat), ms. */
  lastSeen: number;
  /** Killed for not answering; its exit is awaited. */
  doomed: boolean;
  /** A send failed: its channel is closed, it is about to exit. */
  broken: boolean;
  /** Exited (its channel may still hold messages). */
  gone: boolean;
}

/** A worker's message as the pool passes it on: every one but its readiness and pongs. */
export type WorkerReport = Exclude<WorkerMessage, { t: 'ready' | 'pong' }>;

/** What the pool tells the rest of the primary. */
export interface PoolEvents {
  /** The environment of a new worker. */
  env(): Record<string, string>;
  /** Stream slots a new worker's viewer counts start with. */
  slots(): number;
  /** A new worker (not ready yet). */
  added(w: PoolWorker): void;
  /** A worker's message (every one but its readiness and pongs, which the pool handles). */
  message(w: PoolWorker, m: WorkerReport): void;
  /** A worker became ready for connections. */
  ready(w: PoolWorker): void;
  /** A worker exited: give back what it held. */
  exited(w: PoolWorker): void;
  /** Every heartbeat, after the workers were judged. */
  tick(now: number): void;
}

/**
 * Multi-process mode, primary side: the worker processes. Forks them, pings them
 * (heartbeat), kills one that stops answering, and replaces one that dies. Start-up fails
 * if a worker exits before it is ready.
 */
export class WorkerPool {
  private readonly workers = new Map<number, PoolWorker>();
  private stopping = false;
  private heartbeat: TimerHandle | undefined;
  private lastTick = 0;
  private pingSeq = 0;
  private starting: { resolve: () => void; reject: (e: Error) => void } | undefined;

  constructor(private readonly log: Logger, readonly count: number, private readonly events: PoolEvents, private readonly clock: Clock) {}

  /** The workers (live, and exited ones whose exit is being handled). */
  list(): PoolWorker[] { return [...this.workers.values()]; }

  /** Fork the workers; resolves once every one is ready. */
  start(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => { this.starting = { resolve, reject }; });
    const flags = NODE_FLAGS.filter((f) => !process.execArgv.includes(f));
    cluster.setupPrimary({ stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'], execArgv: [...process.execArgv, ...flags] });
    cluster.on('exit', (w, code, signal) => this.onExit(w, code, signal));
    this.lastTick = this.clock.now();
    this.heartbeat = this.clock.setInterval(() => this.tick(), PING_MS);
    unrefTimer(this.heartbeat);
    for (let i = 0; i < this.count; i++) this.fork();
    return ready;
  }

  /** A message to every worker. */
  broadcast(m: PrimaryMessage): void {
    for (const w of this.workers.values()) this.send(w, m);
  }

  /** A message to a worker; one that has just died cannot get it (its exit handler cleans up). */
  send(w: PoolWorker, m: PrimaryMessage): void {
    if (w.broken || !w.worker.isConnected()) return;
    try {
      w.worker.send(m, undefined, undefined, (err) => { if (err) w.broken = true; });
    } catch { w.broken = true; }
  }

  /** Tell the workers to end their clients and exit; kill those still alive after EXIT_WAIT_MS. Idempotent. */
  async close(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.heartbeat !== undefined) this.clock.clearInterval(this.heartbeat);
    const exits = this.list().map((w) => new Promise<void>((res) => {
      if (w.worker.isDead()) return res();
      w.worker.once('exit', () => res());
      this.send(w, { t: 'shutdown' });
    }));
    let timer: TimerHandle | undefined;
    const timeout = new Promise<void>((res) => { timer = this.clock.setTimeout(res, EXIT_WAIT_MS); });
    await Promise.race([Promise.all(exits), timeout]);
    this.clock.clearTimeout(timer!);
    for (const w of this.workers.values()) if (!w.worker.isDead()) w.worker.process.kill('SIGKILL');
  }

  private fork(): void {
    const worker = cluster.fork(this.events.env());
    const pipe = worker.process.stdio[DATA_FD] as Writable | undefined;
    if (!pipe) throw new Error('worker data pipe missing');
    pipe.on('error', () => { /* worker gone; exit handler cleans up */ });
    // A message to a worker that has just died fails (EPIPE): never fatal, the exit
    // handler cleans up. Errors of sends with a callback go to the callback instead.
    worker.on('error', () => { st.broken = true; });
    worker.process.on('error', () => { st.broken = true; });
    worker.on('disconnect', () => { st.broken = true; });
    const now = this.clock.now();
    const st: PoolWorker = {
      id: worker.id, worker, pipe, viewers: Array.from({ length: this.events.slots() }, () => 0), startedAt: now, admitted: 0,
      ready: false, lastSeen: now, doomed: false, broken: false, gone: false, pending: 0,
      onStuck: () => {
        this.log.error({ evt: EVT.warning, worker: worker.id }, 'worker not reading its data pipe: restarting it');
        worker.process.kill('SIGKILL');
      },
      routable: () => st.ready && !st.doomed && !st.broken && worker.isConnected(),
      fresh: (t) => t - st.lastSeen < FRESH_MS,
      send: (id, socket, done, tls) => this.sendConn(st, id, socket, done, tls),
    };
    this.workers.set(worker.id, st);
    this.events.added(st);
    worker.on('message', (m: WorkerMessage) => this.onMessage(st, m));
  }

  /**
   * Heartbeat: ping every worker; kill one that has not been heard from for
   * UNRESPONSIVE_MS (stopped, or its event loop blocked): its clients are frozen and it
   * would take no new connection. The exit handler replaces it.
   */
  private tick(): void {
    const now = this.clock.now();
    // We did not run for a while ourselves (stopped, blocked, suspended): the workers'
    // answers may be waiting unread; judge them again from now.
    const late = now - this.lastTick > PING_MS * 3;
    this.lastTick = now;
    for (const w of this.workers.values()) {
      if (late) w.lastSeen = Math.max(w.lastSeen, now - PING_MS);
      if (w.doomed) continue;
      const silent = now - w.lastSeen;
      if (w.ready ? silent > UNRESPONSIVE_MS : now - w.startedAt > STARTUP_MS) {
        w.doomed = true;
        this.log.error({ evt: EVT.warning, worker: w.id, pid: w.worker.process.pid, silentMs: silent, ready: w.ready }, 'worker unresponsive: killing it and starting a new one');
        w.worker.process.kill('SIGKILL');
        continue;
      }
      if (w.ready) this.send(w, { t: 'ping', seq: ++this.pingSeq });
    }
    this.events.tick(now);
  }

  private sendConn(w: PoolWorker, id: number, socket: Socket, done: (err: Error | null) => void, tls: boolean): void {
    try {
      // keepOpen: our copy stays until the worker acknowledges it (or dies).
      w.worker.send((tls ? { t: 'conn', id, tls } : { t: 'conn', id }) satisfies PrimaryMessage, socket, { keepOpen: true }, (err) => { if (err) { w.broken = true; done(err); } });
    } catch (err) {
      w.broken = true;
      done(err as Error);
    }
  }

  private onMessage(w: PoolWorker, m: WorkerMessage): void {
    // Read after its exit: its slots and viewers were given back; only a connection's
    // acknowledgement still matters (that connection is served, or was, by nobody else).
    if (w.gone && m.t !== 'conn-ack') return;
    w.lastSeen = this.clock.now();
    if (m.t === 'pong') return;
    if (m.t !== 'ready') { this.events.message(w, m); return; }
    if (w.ready) return;
    w.ready = true;
    this.events.ready(w);
    if (this.list().every((x) => x.ready)) { this.starting?.resolve(); this.starting = undefined; }
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    const w = this.workers.get(worker.id);
    if (!w) return;
    w.gone = true;
    this.workers.delete(worker.id);
    this.events.exited(w);
    if (this.stopping) return;
    if (!w.ready && this.starting) {
      // Not one start-up problem retried forever: the instance does not start.
      this.starting.reject(new RestreamerError('WORKER_START', { worker: worker.id, code, signal }));
      this.starting = undefined;
      return;
    }
    this.log.error({ evt: EVT.warning, worker: worker.id, code, signal }, 'worker died: starting a new one');
    const early = this.clock.now() - w.startedAt < RESTART_BACKOFF_MS;
    this.clock.setTimeout(() => { if (!this.stopping) this.fork(); }, early ? RESTART_BACKOFF_MS : 0);
  }
}
