import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Logger } from '../log/logger.js';
import { EVT } from '../log/logger.js';
import type { Config } from '../config/schema.js';
import type { ReloadPlan } from '../reload.js';
import type { Stream } from '../stream/stream.js';
import { WorkerPipes, type WorkerPipe } from './fanout.js';
import { MirrorOutput } from './mirror.js';
import { DATA_FD, type PrimaryMessage, type WorkerMessage, type WorkerStreamCounters } from './protocol.js';
import { WorkerCounters } from './counters.js';
import { NODE_FLAGS } from '../node-flags.js';
import { parseListen } from '../config/listen.js';
import { Handoff, type HandoffTarget } from './handoff.js';
import { RestreamerError } from '../errors.js';

/** Environment handed to workers (they get the primary's argv, so the same config path). */
export const ENV_API_SOCKET = 'RESTREAMER_API_SOCKET';
/** The log settings of the workers (they never read the configuration file). */
export const ENV_LOG_FILE = 'RESTREAMER_LOG_FILE';
export const ENV_LOG_FORMAT = 'RESTREAMER_LOG_FORMAT';
/** The run's secret for the internal API socket (workers read it once and drop it). */
export const ENV_API_SECRET = 'RESTREAMER_API_SECRET';

/** A worker that dies sooner than this after its start is restarted only after a pause. */
const RESTART_BACKOFF_MS = 1000;
const COLLECT_TIMEOUT_MS = 500;
/** Heartbeat: the primary pings every worker this often, ms. */
const PING_MS = 500;
/** A ready worker not heard from (pong, report, anything) for this long is killed and replaced, ms. */
const UNRESPONSIVE_MS = 3000;
/** A worker silent for this long gets new connections only when no other one can, ms. */
const FRESH_MS = 1200;
/** Connection faults (closed without a worker, failed accepts) are logged at most this often, ms. */
const SUMMARY_MS = 10000;
/** A worker that is not ready this long after its fork is killed and replaced, ms. */
const STARTUP_MS = 30000;

interface WorkerState extends WorkerPipe, HandoffTarget {
  worker: Worker;
  startedAt: number;
  slots: number;
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

/**
 * The configuration the primary runs (src/roles/primary.ts builds it): what the workers'
 * requests need of it.
 */
export interface PrimaryHost {
  readonly cfg: Config;
  /** Configuration generation: 0 at start, one more per reload. */
  readonly generation: number;
  /** The hard limit, one counter for every worker's viewers. */
  readonly admission: { tryAcquire(): boolean; release(): void };
  /** The streams running here (upstream side), by serve path. */
  readonly streams: ReadonlyMap<string, Stream>;
}

/**
 * What the primary's composition root gets from here: where each stream's packets go
 * (the workers) and the workers' counters.
 */
export interface PrimaryLink {
  /** The output of the stream in `slot`: its packets and events go to every worker. */
  mirror(slot: number): MirrorOutput;
  counters: WorkerCounters;
  /** Fresh counters from every worker (before an API answer); bounded wait. */
  refresh(): Promise<void>;
  /** The run's secret for the internal API socket. */
  apiSecret: string;
}

/**
 * Multi-process mode, primary side: the worker processes. Accepts every connection and
 * hands it to a worker, feeds each worker's hubs through a data pipe, answers their
 * admission, viewer and demand requests from the configuration running here (the Stream
 * supervisors pull every upstream exactly once), collects their counters for the APIs
 * (served here on an internal socket; workers forward API requests), and replaces workers
 * that die. The composition root (src/roles/primary.ts) builds the rest.
 */
export class Primary {
  private readonly pipes: WorkerPipes;
  private readonly counters: WorkerCounters;
  private readonly workers = new Map<number, WorkerState>();
  /** The stream running in each slot (undefined: retired by a reload; never reused). */
  private slots: (string | undefined)[];
  /** Slot of each stream resource of the running configuration, in order. */
  private configSlots: number[];
  private readonly dir = internalDir();
  private readonly apiSecret = randomBytes(32).toString('hex');
  private stopping = false;
  private readonly handoff = new Handoff(() => [...this.workers.values()]);
  private readyResolve: (() => void) | undefined;
  private readyReject: ((e: Error) => void) | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private pingSeq = 0;
  private dropsLogged = 0;
  private acceptErrorsLogged = 0;
  private summaryAt = 0;
  private collectSeq = 0;
  private readonly collects = new Map<number, { left: Set<number>; done: () => void }>();

  /** The internal API socket (the workers forward API and static requests to it). */
  readonly apiSocket = join(this.dir, 'api.sock');
  readonly link: PrimaryLink;

  /** `host`: the configuration running here, which a reload replaces. */
  constructor(cfg: Config, private readonly log: Logger, readonly workerCount: number, private readonly host: () => PrimaryHost) {
    this.slots = cfg.resources.filter((r) => r.type === 'stream').map((r) => r.serve);
    this.configSlots = this.slots.map((_, i) => i);
    this.pipes = new WorkerPipes(this.slots.length);
    this.counters = new WorkerCounters(this.slots.length);
    this.link = { mirror: (i) => new MirrorOutput(this.pipes, i), counters: this.counters, refresh: () => this.collect(), apiSecret: this.apiSecret };
  }

  /** The slot of each stream resource of the running configuration, in order. */
  get streamSlots(): readonly number[] { return this.configSlots; }

  private get running(): PrimaryHost { return this.host(); }

  /**
   * SIGHUP, before the new configuration is built here: its slots. Kept streams keep
   * their slot; restarted and added ones get new slots, so nothing of an old stream
   * reaches a new one. `commit` once the new configuration runs here: the workers get it
   * (kept streams keep their clients).
   */
  reloadSlots(plan: ReloadPlan, next: Config): { slots: readonly number[]; commit: () => void } {
    const current = new Map<string, number>();
    this.slots.forEach((name, slot) => { if (name !== undefined) current.set(name, slot); });
    const keep = new Set(plan.keep);
    const slots = [...this.slots];
    const configSlots = next.resources.filter((r) => r.type === 'stream').map((r) => {
      if (keep.has(r.serve)) return current.get(r.serve)!;
      slots.push(r.serve);
      return slots.length - 1;
    });
    // Frames name a slot in 16 bits.
    if (slots.length > 0xffff) throw new Error('too many streams started since this process began (65535 slots): restart to apply the configuration');
    for (const [name, slot] of current) if (!keep.has(name)) slots[slot] = undefined;
    this.pipes.ensure(slots.length);
    this.counters.ensure(slots.length);
    return {
      slots: configSlots,
      commit: () => {
        this.slots = slots;
        this.configSlots = configSlots;
        for (const w of this.workers.values()) this.sendConfig(w);
      },
    };
  }

  private sendConfig(w: WorkerState): void {
    this.send(w, { t: 'config', cfg: this.running.cfg, slots: this.configSlots, generation: this.running.generation });
  }

  /** The stream in `slot`, if it runs. */
  private streamAt(slot: number): Stream | undefined {
    const name = Number.isInteger(slot) && slot >= 0 ? this.slots[slot] : undefined;
    return name === undefined ? undefined : this.running.streams.get(name);
  }

  /**
   * Listen (the primary accepts every connection and hands it to a worker) and start the
   * workers; resolves once every one is ready.
   */
  async start(): Promise<AddressInfo> {
    const { host, port } = parseListen(this.running.cfg.listen);
    const addr = await this.handoff.listen(host, port);
    const ready = new Promise<void>((res, rej) => {
      this.readyResolve = res;
      this.readyReject = rej;
    });
    const flags = NODE_FLAGS.filter((f) => !process.execArgv.includes(f));
    cluster.setupPrimary({ stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'], execArgv: [...process.execArgv, ...flags] });
    cluster.on('exit', (w, code, signal) => this.onExit(w, code, signal));
    this.lastTick = Date.now();
    this.heartbeat = setInterval(() => this.tick(), PING_MS);
    this.heartbeat.unref();
    for (let i = 0; i < this.workerCount; i++) this.fork();
    await ready;
    return addr;
  }

  /** SIGHUP: reopen our log and tell the workers to reopen theirs. */
  reopenLogs(): void {
    for (const w of this.workers.values()) this.send(w, { t: 'reopen' });
  }

  /**
   * Stop workers (they end their clients), then what `closeHost` closes (the upstreams).
   * Resolves when all exited.
   */
  async close(closeHost: () => Promise<void>): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.heartbeat);
    this.handoff.close();
    const exits = [...this.workers.values()].map((w) => new Promise<void>((res) => {
      if (w.worker.isDead()) return res();
      w.worker.once('exit', () => res());
      this.send(w, { t: 'shutdown' });
    }));
    const timeout = new Promise<void>((res) => setTimeout(res, 1500).unref());
    await Promise.race([Promise.all(exits), timeout]);
    for (const w of this.workers.values()) if (!w.worker.isDead()) w.worker.process.kill('SIGKILL');
    this.pipes.close();
    await closeHost();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private fork(): void {
    const worker = cluster.fork({
      [ENV_API_SOCKET]: this.apiSocket, [ENV_API_SECRET]: this.apiSecret,
      [ENV_LOG_FILE]: this.running.cfg.log, [ENV_LOG_FORMAT]: this.running.cfg.logformat ?? '',
    });
    const pipe = worker.process.stdio[DATA_FD] as Writable | undefined;
    if (!pipe) throw new Error('worker data pipe missing');
    pipe.on('error', () => { /* worker gone; exit handler cleans up */ });
    // A message to a worker that has just died fails (EPIPE): never fatal, the exit
    // handler cleans up. Errors of sends with a callback go to the callback instead.
    worker.on('error', () => { st.broken = true; });
    worker.process.on('error', () => { st.broken = true; });
    worker.on('disconnect', () => { st.broken = true; });
    const now = Date.now();
    const st: WorkerState = {
      id: worker.id, worker, pipe, viewers: this.slots.map(() => 0), startedAt: now, slots: 0,
      ready: false, lastSeen: now, doomed: false, broken: false, gone: false, pending: 0,
      onStuck: () => {
        this.log.error({ evt: EVT.warning, worker: worker.id }, 'worker not reading its data pipe: restarting it');
        worker.process.kill('SIGKILL');
      },
      routable: () => st.ready && !st.doomed && !st.broken && worker.isConnected(),
      fresh: (t) => t - st.lastSeen < FRESH_MS,
      send: (id, socket, done) => this.sendConn(st, id, socket, done),
    };
    this.workers.set(worker.id, st);
    this.pipes.add(st);
    worker.on('message', (m: WorkerMessage) => this.onMessage(st, m));
  }

  /**
   * Heartbeat: ping every worker; kill one that has not been heard from for
   * UNRESPONSIVE_MS (stopped, or its event loop blocked): its clients are frozen and it
   * would take no new connection. The exit handler replaces it.
   */
  private tick(): void {
    const now = Date.now();
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
    this.handoff.sweep(now, (t) => (t as WorkerState).doomed || (t as WorkerState).gone);
    // Repeated faults: one line per kind at most every SUMMARY_MS, with the count since the last.
    if (now - this.summaryAt >= SUMMARY_MS) {
      const dropped = this.handoff.dropped - this.dropsLogged;
      const acceptErrors = this.handoff.acceptErrors - this.acceptErrorsLogged;
      if (dropped > 0) this.log.warn({ evt: EVT.warning, connections: dropped, total: this.handoff.dropped }, 'connections closed: no worker took them');
      if (acceptErrors > 0) this.log.error({ evt: EVT.warning, errors: acceptErrors, total: this.handoff.acceptErrors }, 'accepting connections failed (out of file descriptors?)');
      if (dropped > 0 || acceptErrors > 0) this.summaryAt = now;
      this.dropsLogged = this.handoff.dropped;
      this.acceptErrorsLogged = this.handoff.acceptErrors;
    }
  }

  private sendConn(w: WorkerState, id: number, socket: Socket, done: (err: Error | null) => void): void {
    try {
      // keepOpen: our copy stays until the worker acknowledges it (or dies).
      w.worker.send({ t: 'conn', id } satisfies PrimaryMessage, socket, { keepOpen: true }, (err) => { if (err) { w.broken = true; done(err); } });
    } catch (err) {
      w.broken = true;
      done(err as Error);
    }
  }

  private onMessage(w: WorkerState, m: WorkerMessage): void {
    // Read after its exit: its slots and viewers were given back; only a connection's
    // acknowledgement still matters (that connection is served, or was, by nobody else).
    if (w.gone && m.t !== 'conn-ack') return;
    w.lastSeen = Date.now();
    switch (m.t) {
      case 'hello':
        this.sendConfig(w);
        break;
      case 'configured':
        // It runs this configuration now: every stream's availability, before its data.
        this.slots.forEach((name, slot) => {
          const s = name === undefined ? undefined : this.running.streams.get(name);
          if (s) this.pipes.state(slot, s.connected, s.offline, w);
        });
        break;
      case 'ready':
        if (!w.ready) {
          w.ready = true;
          this.handoff.flush();
          if ([...this.workers.values()].every((x) => x.ready)) { this.readyResolve?.(); this.readyResolve = undefined; }
        }
        break;
      case 'pong':
        break;
      case 'conn-ack':
        this.handoff.acked(m.id, m.ok);
        break;
      case 'acquire': {
        const ok = !this.stopping && this.running.admission.tryAcquire();
        if (ok) w.slots++;
        this.send(w, { t: 'acquired', id: m.id, ok });
        break;
      }
      case 'release':
        if (w.slots > 0) { w.slots--; this.running.admission.release(); }
        break;
      case 'viewer': {
        if (!this.isSlot(m.stream)) break;
        const s = this.streamAt(m.stream);
        w.viewers[m.stream] = Math.max(0, (w.viewers[m.stream] ?? 0) + m.delta);
        if (m.delta > 0) s?.viewerJoined(); else s?.viewerLeft();
        break;
      }
      case 'demand': {
        const s = this.streamAt(m.stream);
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

  /** A slot as a worker may send it: one of ours (running or retired). */
  private isSlot(i: unknown): i is number {
    return Number.isInteger(i) && (i as number) >= 0 && (i as number) < this.slots.length;
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
    w.gone = true;
    this.workers.delete(worker.id);
    // Connections it had not acknowledged go to another worker (its copies died with it),
    // once its channel is read to the end: an acknowledgement may still be in it.
    if (worker.isConnected()) worker.once('disconnect', () => this.handoff.targetGone(w));
    else this.handoff.targetGone(w);
    this.pipes.remove(w);
    this.counters.retire(worker.id);
    // Its clients are gone: give back their slots and viewers.
    for (let i = 0; i < w.slots; i++) this.running.admission.release();
    w.viewers.forEach((n, slot) => { const s = this.streamAt(slot); for (let k = 0; k < n; k++) s?.viewerLeft(); });
    for (const c of this.collects.values()) { c.left.delete(worker.id); if (c.left.size === 0) c.done(); }
    if (this.stopping) return;
    if (!w.ready && this.readyResolve) {
      // Not one start-up problem retried forever: the instance does not start.
      this.readyReject?.(new RestreamerError('WORKER_START', { worker: worker.id, code, signal }));
      this.readyResolve = undefined;
      return;
    }
    this.log.error({ evt: EVT.warning, worker: worker.id, code, signal }, 'worker died: starting a new one');
    const early = Date.now() - w.startedAt < RESTART_BACKOFF_MS;
    setTimeout(() => { if (!this.stopping) this.fork(); }, early ? RESTART_BACKOFF_MS : 0);
  }

  /** A message to a worker; one that has just died cannot get it (its exit handler cleans up). */
  private send(w: WorkerState, m: PrimaryMessage): void {
    if (w.broken || !w.worker.isConnected()) return;
    try {
      w.worker.send(m, undefined, undefined, (err) => { if (err) w.broken = true; });
    } catch { w.broken = true; }
  }
}

export type { WorkerStreamCounters };

/** The folder (only this user may enter it) of the internal socket; a failure says where and how to fix it. */
function internalDir(): string {
  try {
    return mkdtempSync(join(tmpdir(), 'restreamer-'));
  } catch (e) {
    throw new RestreamerError('INTERNAL_SOCKET', { where: tmpdir(), why: (e as Error).message, hint: 'set TMPDIR to a folder this user may write in' }, { cause: e });
  }
}
