import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import { EVT } from '../log/logger.js';
import { FaultSummary } from '../log/faults.js';
import type { Config } from '../config/schema.js';
import { addressKey, type AddressGuard } from '../auth/guard.js';
import { parseListen } from '../config/listen.js';
import { systemClock, type Clock } from '../hub/clock.js';
import type { ReloadPlan } from '../reload.js';
import { RestreamerError } from '../errors.js';
import { WorkerPipes } from './fanout.js';
import { MirrorOutput } from './mirror.js';
import { ENV_API_SECRET, ENV_API_SOCKET, ENV_LOG_FILE, ENV_LOG_FORMAT, type TlsWire } from './protocol.js';
import { WorkerCounters } from './counters.js';
import { Handoff } from './handoff.js';
import { WorkerPool, type PoolWorker, type WorkerReport } from './pool.js';
import { PrimaryRpc, type RpcHost, type RpcMessage } from './primary-rpc.js';
import { SlotTable } from './slots.js';

/** Connection faults (closed without a worker, failed accepts) are summarised at most this often, ms. */
const SUMMARY_MS = 10000;

/**
 * The configuration the primary runs (src/roles/primary.ts builds it): what the workers'
 * requests need of it.
 */
export interface PrimaryHost extends RpcHost {
  readonly cfg: Config;
  /** Configuration generation: 0 at start, one more per reload. */
  readonly generation: number;
  /** Brute-force protection for the whole instance: the workers report wrong credentials here. */
  readonly authGuard: AddressGuard;
  /** With `tls`: the pair (read here) and ticket keys every worker's HTTPS server uses. */
  readonly tls?: TlsWire;
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
 * Multi-process mode, primary side: accepts every connection and hands it to a worker
 * (handoff.ts), feeds each worker's hubs through a data pipe (fanout.ts), keeps the
 * worker processes (pool.ts), answers their requests from the configuration running here
 * (primary-rpc.ts), and gives each stream a slot (slots.ts). The composition root
 * (src/roles/primary.ts) builds the rest.
 */
export class Primary {
  private readonly slots: SlotTable;
  private readonly pipes: WorkerPipes;
  private readonly counters: WorkerCounters;
  private readonly pool: WorkerPool;
  private readonly rpc: PrimaryRpc;
  private readonly handoff: Handoff;
  private readonly faults: FaultSummary;
  private readonly dir = internalDir();
  private readonly apiSecret = randomBytes(32).toString('hex');
  private stopping = false;

  /** The internal API socket (the workers forward API and static requests to it). */
  readonly apiSocket = join(this.dir, 'api.sock');
  readonly link: PrimaryLink;

  /** `host`: the configuration running here, which a reload replaces. */
  constructor(cfg: Config, private readonly log: Logger, readonly workerCount: number, private readonly host: () => PrimaryHost, clock: Clock = systemClock) {
    this.slots = new SlotTable(cfg);
    this.pipes = new WorkerPipes(this.slots.size);
    this.counters = new WorkerCounters(this.slots.size);
    this.pool = new WorkerPool(log, workerCount, {
      env: () => this.workerEnv(),
      slots: () => this.slots.size,
      added: (w) => { this.pipes.add(w); },
      message: (w, m) => { this.onMessage(w, m); },
      ready: () => { this.handoff.flush(); },
      exited: (w) => { this.onExit(w); },
      tick: (now) => { this.tick(now); },
    }, clock);
    this.handoff = new Handoff(() => this.pool.list(), clock);
    this.rpc = new PrimaryRpc(host, this.slots, this.counters, (w, m) => { this.pool.send(w, m); }, clock);
    // Repeated connection faults: one line per interval at most, with what grew since the last.
    this.faults = new FaultSummary(log, () => ({ dropped: this.handoff.dropped, acceptErrors: this.handoff.acceptErrors }), SUMMARY_MS, {
      timers: clock,
      line: (since, totals) => { this.log.warn({ evt: EVT.warning, since, totals }, 'connection faults since the last summary: closed without a worker (dropped), failed accepts (out of file descriptors?)'); },
    });
    this.link = { mirror: (i) => new MirrorOutput(this.pipes, i), counters: this.counters, refresh: () => this.rpc.collect(this.pool.list()), apiSecret: this.apiSecret };
  }

  /** The slot of each stream resource of the running configuration, in order. */
  get streamSlots(): readonly number[] { return this.slots.configSlots; }

  /**
   * SIGHUP, before the new configuration is built here: its slots (see SlotTable).
   * `commit` once the new configuration runs here: the workers get it (kept streams keep
   * their clients).
   */
  reloadSlots(plan: ReloadPlan, next: Config): { slots: readonly number[]; commit: () => void } {
    const r = this.slots.reload(plan, next);
    this.pipes.ensure(r.size);
    this.counters.ensure(r.size);
    return {
      slots: r.slots,
      commit: () => {
        r.commit();
        for (const w of this.pool.list()) this.sendConfig(w);
      },
    };
  }

  /**
   * Listen (the primary accepts every connection, plain or HTTPS, and hands it to a
   * worker, which does the TLS handshake) and start the workers; resolves once every one
   * is ready, with the addresses listened on.
   */
  async start(): Promise<{ plain?: AddressInfo; tls?: AddressInfo }> {
    const cfg = this.host().cfg;
    const at = (listen: string, tls: boolean) => {
      const { host, port } = parseListen(listen);
      return this.handoff.listen(host, port, tls);
    };
    const plain = cfg.tls?.only ? undefined : await at(cfg.listen, false);
    const tls = cfg.tls && await at(cfg.tls.listen, true);
    this.faults.start();
    await this.pool.start();
    return { plain, tls };
  }

  /** SIGHUP: reopen our log and tell the workers to reopen theirs. */
  reopenLogs(): void { this.pool.broadcast({ t: 'reopen' }); }

  /**
   * Stop workers (they end their clients), then what `closeHost` closes (the upstreams).
   * Resolves when all exited.
   */
  async close(closeHost: () => Promise<void>): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.rpc.close();
    this.faults.stop();
    this.handoff.close();
    await this.pool.close();
    this.pipes.close();
    await closeHost();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private workerEnv(): Record<string, string> {
    const cfg = this.host().cfg;
    return { [ENV_API_SOCKET]: this.apiSocket, [ENV_API_SECRET]: this.apiSecret, [ENV_LOG_FILE]: cfg.log, [ENV_LOG_FORMAT]: cfg.logformat ?? '' };
  }

  private sendConfig(w: PoolWorker): void {
    const running = this.host();
    this.pool.send(w, { t: 'config', cfg: running.cfg, slots: [...this.slots.configSlots], generation: running.generation, tls: running.tls });
  }

  private onMessage(w: PoolWorker, m: WorkerReport): void {
    switch (m.t) {
      case 'hello':
        this.sendConfig(w);
        // A worker replacing one that died blocks what the others block.
        for (const [key, ms] of this.host().authGuard.blocks()) this.pool.send(w, { t: 'authblock', key, ms });
        break;
      case 'configured': {
        // It runs this configuration now: every stream's availability, before its data.
        const streams = this.host().streams;
        for (const [slot, name] of this.slots.running()) {
          const s = streams.get(name);
          if (s) this.pipes.state(slot, s.connected, s.offline, w);
        }
        break;
      }
      case 'conn-ack': this.handoff.acked(m.id, m.ok); break;
      case 'authfail': this.authFailed(m.address); break;
      default: this.rpc.onMessage(w, m satisfies RpcMessage);
    }
  }

  /**
   * A worker saw wrong credentials from `address`: counted here, once for the instance; a
   * block this begins is told to every worker (requests already on their way still get
   * their credential check).
   */
  private authFailed(address: unknown): void {
    // Its own socket's address, but checked all the same: nothing on this channel is trusted blindly.
    if (typeof address !== 'string' || address.length > 64) return;
    const ms = this.host().authGuard.fail(address);
    if (ms === 0) return;
    const key = addressKey(address);
    for (const w of this.pool.list()) this.pool.send(w, { t: 'authblock', key, ms });
  }

  private onExit(w: PoolWorker): void {
    // Connections it had not acknowledged go to another worker (its copies died with it),
    // once its channel is read to the end: an acknowledgement may still be in it.
    if (w.worker.isConnected()) w.worker.once('disconnect', () => { this.handoff.targetGone(w); });
    else this.handoff.targetGone(w);
    this.pipes.remove(w);
    this.rpc.workerGone(w);
  }

  private tick(now: number): void {
    this.handoff.sweep(now, (t) => (t as PoolWorker).doomed || (t as PoolWorker).gone);
    // The first connection fault of each kind is logged at once; the rest once per interval.
    if (this.handoff.dropped > 0) this.faults.first('dropped', { evt: EVT.warning, connections: this.handoff.dropped }, 'connections closed: no worker took them');
    if (this.handoff.acceptErrors > 0) this.faults.first('acceptErrors', { evt: EVT.warning, errors: this.handoff.acceptErrors }, 'accepting connections failed (out of file descriptors?)');
  }
}

/** The folder (only this user may enter it) of the internal socket; a failure says where and how to fix it. */
function internalDir(): string {
  try {
    return mkdtempSync(join(tmpdir(), 'restreamer-'));
  } catch (e) {
    throw new RestreamerError('INTERNAL_SOCKET', { where: tmpdir(), why: (e as Error).message, hint: 'set TMPDIR to a folder this user may write in' }, { cause: e });
  }
}
