import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Config, ResourceConfig } from '../config/schema.js';
import type { TlsWire } from '../cluster/protocol.js';
import type { Logger } from '../log/logger.js';
import { EVT } from '../log/logger.js';
import type { Handler } from '../http/server.js';
import type { StaticResource } from '../http/static.js';
import { Stream } from '../stream/stream.js';
import { planReload, type ReloadPlan } from '../reload.js';
import { Primary, type PrimaryHost, type PrimaryLink } from '../cluster/primary.js';
import { aggregatedResponses, aggregatedView } from '../cluster/views.js';
import { PrimaryApiServer, type InternalRoute } from '../cluster/primary-api.js';
import type { MirrorOutput } from '../cluster/mirror.js';
import { UpstreamSide, type UpstreamCarry } from './upstream.js';
import { apiHandler, needsUpstreams } from './apis.js';
import { addressGuard, assertReloadable, loadTlsPair, logTlsListen, logTlsReload, staticHandler, type Runner } from './shared.js';
import type { AddressGuard } from '../auth/guard.js';
import type { TlsPair } from '../http/tls.js';

// Multi-process mode: each stream has a slot, its number on the data pipe and in the
// workers' reports. Slots never change for a stream that runs on; a reload gives
// restarted and added streams new ones (`slots[i]` is the slot of the i-th stream
// resource), so no frame of an old stream can reach a new one.

/** What a PrimaryApp built by a reload takes over from the one it replaces. */
interface Carried {
  upstream: UpstreamCarry<MirrorOutput>;
  /** The internal API server (listening). */
  internal: PrimaryApiServer;
  generation: number;
}

/**
 * One configuration of a multi-process primary: upstreams, admission, and the APIs and
 * static resources the workers forward to the internal socket. The workers get every
 * packet through `link.mirror` and report their counters.
 */
export class PrimaryApp implements PrimaryHost {
  readonly upstream: UpstreamSide<MirrorOutput>;
  /** The internal server that answers the workers' API and static requests. */
  readonly internal: PrimaryApiServer;
  /** Configuration generation: 0 at start, one more per reload (names the config a forwarded request was authorised under). */
  readonly generation: number;
  /** Brute-force protection: every worker's wrong credentials counted together (a reload starts afresh). */
  readonly authGuard: AddressGuard;
  private readonly statics: StaticResource[] = [];

  /**
   * `tls`: the pair read for this configuration, with the run's ticket keys, which the
   * workers get with it.
   */
  constructor(readonly cfg: Config, readonly log: Logger, link: PrimaryLink, slots: readonly number[], readonly tls: TlsWire | undefined, carried?: Carried) {
    this.generation = carried ? carried.generation + 1 : 0;
    this.authGuard = addressGuard(cfg, log);
    this.upstream = new UpstreamSide(cfg, log, {
      newStream: (r, i) => new Stream(r, cfg, log, () => link.mirror(slots[i] ?? i)),
      view: (s, i) => aggregatedView(s, slots[i] ?? i, link.counters),
      responses: (_r, i) => aggregatedResponses(slots[i] ?? i, link.counters),
      clientDetails: false,
      forwardedStatus: true,
    }, carried?.upstream);
    this.internal = carried?.internal ?? new PrimaryApiServer(link.apiSecret, log);
    // The internal socket, by resource index: the worker where the request arrived
    // authorised and logged it. APIs need the workers' latest counters; static
    // resources keep one cache here.
    const routes = new Map<number, InternalRoute>();
    cfg.resources.forEach((r, index) => {
      if (r.type === 'stream') return;
      const h = this.handlerFor(r, log.child({ resource: r.serve }));
      routes.set(index, { serve: r.serve, handle: needsUpstreams(r) ? async (req, res) => { await link.refresh(); h(req, res); } : h });
    });
    this.internal.setRoutes(this.generation, routes);
  }

  get admission(): UpstreamSide<MirrorOutput>['admission'] { return this.upstream.admission; }
  get streams(): ReadonlyMap<string, Stream<MirrorOutput>> { return this.upstream.streams; }

  /** The next configuration, taking over kept streams and the internal server; this one is retired. */
  reload(next: Config, link: PrimaryLink, slots: readonly number[], plan: ReloadPlan, tls: TlsWire | undefined): PrimaryApp {
    const upstream = this.upstream.carry(plan);
    const app = new PrimaryApp(next, this.log, link, slots, tls, { upstream, internal: this.internal, generation: this.generation });
    this.upstream.retire(upstream.streams);
    for (const s of this.statics) s.close();
    app.upstream.start();
    return app;
  }

  close(): Promise<void> {
    const closing = this.internal.close();
    this.upstream.close();
    for (const s of this.statics) s.close();
    return closing;
  }

  private handlerFor(r: ResourceConfig, rlog: Logger): Handler {
    if (r.type === 'static') return staticHandler(r, this.cfg, rlog, this.statics);
    return apiHandler(r, rlog, this.cfg, this.upstream);
  }
}

/**
 * Composition root of a multi-process primary: the worker processes (cluster/primary.ts)
 * and the configuration running here (PrimaryApp), which a reload replaces.
 */
export class PrimaryRoot implements Runner {
  private app: PrimaryApp;
  private readonly cluster: Primary;
  private closed: Promise<void> | undefined;
  /** Session-ticket keys of the run, the same in every worker (a session resumes on any of them). */
  private readonly ticketKeys = randomBytes(48).toString('base64');
  /** The HTTPS pair the workers run (the primary reads the files; they never do). */
  private pair: TlsPair | undefined;

  constructor(cfg: Config, private readonly log: Logger, readonly workerCount: number) {
    this.cluster = new Primary(cfg, log, workerCount, () => this.app);
    this.pair = cfg.tls && loadTlsPair(cfg.tls, log);
    this.app = new PrimaryApp(cfg, log, this.cluster.link, this.cluster.streamSlots, this.wire(cfg, this.pair));
  }

  /** The running configuration. */
  get cfg(): Config { return this.app.cfg; }

  /**
   * Serve the APIs to the workers on a Unix socket, listen, start the workers and, once
   * every one is ready, the upstreams.
   */
  async start(): Promise<AddressInfo> {
    await this.app.internal.listen(this.cluster.apiSocket);
    const { plain, tls } = await this.cluster.start();
    this.app.upstream.start();
    if (plain) this.log.info({ evt: EVT.listen, address: plain.address, port: plain.port, workers: this.workerCount }, 'listening');
    if (tls && this.pair) logTlsListen(this.log, tls, this.pair, { workers: this.workerCount });
    return (plain ?? tls)!;
  }

  /**
   * SIGHUP: apply a new configuration here (kept streams keep their upstream) and in
   * every worker (kept streams keep their clients). The primary stays the runner.
   */
  reload(next: Config): { runner: PrimaryRoot; plan: ReloadPlan } {
    const plan = planReload(this.app.cfg, next);
    assertReloadable(plan);
    // Re-read on every reload (certbot renewed them): a broken pair refuses the whole reload.
    const pair = next.tls && loadTlsPair(next.tls, this.log);
    const { slots, commit } = this.cluster.reloadSlots(plan, next);
    this.app = this.app.reload(next, this.cluster.link, slots, plan, this.wire(next, pair));
    this.pair = pair;
    // The workers get the new configuration, and with it the new pair.
    commit();
    if (pair) logTlsReload(this.log, pair);
    return { runner: this, plan };
  }

  /** SIGTERM with a drain time: see UpstreamSide.drain (admission here counts every worker's viewers). */
  drain(ms: number): Promise<void> { return this.app.upstream.drain(ms); }

  /** Stop workers (they end their clients), then upstreams. */
  close(): Promise<void> {
    this.closed ??= this.cluster.close(() => this.app.close());
    return this.closed;
  }

  private wire(cfg: Config, pair: TlsPair | undefined): TlsWire | undefined {
    if (!cfg.tls || !pair) return undefined;
    return { cert: pair.cert.toString('utf8'), key: pair.key.toString('utf8'), minVersion: cfg.tls.minversion, ticketKeys: this.ticketKeys };
  }

  /** SIGHUP: the workers reopen their logs. */
  reopenLogs(): void { this.cluster.reopenLogs(); }
}
