import type { AddressInfo } from 'node:net';
import type { Config, ResourceConfig } from '../config/schema.js';
import { parseListen } from '../config/listen.js';
import type { Logger } from '../log/logger.js';
import { EVT } from '../log/logger.js';
import type { HttpFront, Handler } from '../http/server.js';
import type { StaticResource } from '../http/static.js';
import { secureOptions } from '../http/tls.js';
import { StatusCounts } from '../metrics/stats.js';
import { Stream } from '../stream/stream.js';
import { createHub } from '../stream/create-hub.js';
import type { StreamHub } from '../hub/hub.js';
import { planReload, type ReloadPlan } from '../reload.js';
import { UpstreamSide, type UpstreamCarry } from './upstream.js';
import { apiHandler } from './apis.js';
import { hlsHandler } from '../http/hls.js';
import { assertReloadable, createFront, loadTlsPair, logTlsListen, logTlsReload, publicRoutes, staticHandler, streamHandler, type Runner } from './shared.js';

/** What a SingleApp built by reload() takes over from the one it replaces. */
interface Carried {
  front: HttpFront;
  upstream: UpstreamCarry<StreamHub>;
  /** The generation of the configuration being replaced. */
  generation: number;
}

/**
 * Composition root of a single process (workers: 1): upstreams, clients, APIs and static
 * resources all here. Builds every component from a validated config and wires them;
 * nothing else in src/ knows about more than its neighbours.
 */
export class SingleApp implements Runner {
  readonly front: HttpFront;
  readonly upstream: UpstreamSide<StreamHub>;
  /** Configuration generation: 0 at start, one more per reload. */
  readonly generation: number;
  private readonly statics: StaticResource[] = [];
  private closed: Promise<void> | undefined;

  constructor(readonly cfg: Config, readonly log: Logger, carried?: Carried) {
    this.generation = carried ? carried.generation + 1 : 0;
    this.front = carried?.front ?? createFront(log);
    this.upstream = new UpstreamSide(cfg, log, {
      newStream: (r) => new Stream(r, cfg, log, (clock) => createHub(cfg, r, clock)),
      view: (s) => s,
      responses: (_r, _i, kept) => kept ?? new StatusCounts(),
      clientDetails: true,
      forwardedStatus: false,
    }, carried?.upstream);
    this.front.setRoutes(publicRoutes(cfg, log, this.upstream.responses, (r, rlog) => this.handlerFor(r, rlog), undefined, (r) => this.hlsFor(r)));
  }

  /**
   * Start upstreams, statistics and heartbeat, and listen: plain HTTP on `listen` (unless
   * `tls.only`), HTTPS on `tls.listen`. Returns the plain address, else the HTTPS one.
   */
  async start(): Promise<AddressInfo> {
    const tls = this.cfg.tls;
    // The pair first: a broken one fails the start before anything listens.
    const pair = tls && loadTlsPair(tls, this.log);
    let addr: AddressInfo | undefined;
    if (!tls?.only) {
      const { host, port } = parseListen(this.cfg.listen);
      addr = await this.front.listen(host, port);
      this.log.info({ evt: EVT.listen, address: addr.address, port: addr.port }, 'listening');
    }
    if (tls && pair) {
      const { host, port } = parseListen(tls.listen);
      const tlsAddr = await this.front.listenTls(host, port, secureOptions(pair, tls.minversion));
      logTlsListen(this.log, tlsAddr, pair);
      addr ??= tlsAddr;
    }
    this.upstream.start();
    return addr!;
  }

  /** SIGTERM with a drain time: see UpstreamSide.drain. */
  drain(ms: number): Promise<void> { return this.upstream.drain(ms); }

  /**
   * SIGHUP: apply a new configuration. Streams whose definition did not
   * change keep their upstream and every client; changed ones restart (their clients are
   * ended), removed ones end their clients, added ones start; routes, APIs, static
   * resources, users, limits and notifications are rebuilt. The listening socket and the
   * connection count carry over; a stream switched offline stays offline. Returns the new
   * SingleApp, which replaces this one; throws ReloadRefused (nothing changed) for a new
   * listen address or worker count.
   */
  reload(next: Config): { runner: SingleApp; plan: ReloadPlan } {
    const plan = planReload(this.cfg, next);
    assertReloadable(plan);
    // Re-read on every reload (certbot renewed them): a broken pair refuses the whole
    // reload, so the running pair and configuration stay together.
    const pair = next.tls && loadTlsPair(next.tls, this.log);
    const upstream = this.upstream.carry(plan);
    const app = new SingleApp(next, this.log, { front: this.front, upstream, generation: this.generation });
    this.upstream.retire(upstream.streams);
    for (const s of this.statics) s.close();
    app.upstream.start();
    if (next.tls && pair) {
      this.front.setSecureContext(secureOptions(pair, next.tls.minversion));
      logTlsReload(this.log, pair);
    }
    return { runner: app, plan };
  }

  /** SIGHUP/SIGUSR1: one process, one log, which cli.ts reopens: nothing else to do. */
  reopenLogs(): void { /* no other process */ }

  /** Graceful shutdown: stop accepting, end clients, close upstreams. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      const closing = this.front.close();
      this.upstream.close();
      for (const s of this.statics) s.close();
      await closing;
    })();
    return this.closed;
  }

  /** The playlist and segments of a stream with `hls` (its hub segments it). */
  private hlsFor(r: ResourceConfig): Handler | undefined {
    const stream = this.upstream.streams.get(r.serve);
    const source = stream?.hub.hls;
    if (!stream || !source || r.hls === undefined) return undefined;
    const authenticated = (r.authentication?.type ?? '') !== '';
    // Time enough for a first keyframe, hlssegment and the next keyframe.
    const firstSegmentWaitMs = Math.max(10_000, 4000 * r.hlssegment);
    return hlsHandler({ path: r.hls, stream, source, cors: !authenticated, authenticated, firstSegmentWaitMs });
  }

  private handlerFor(r: ResourceConfig, rlog: Logger): Handler {
    switch (r.type) {
      case 'stream': return streamHandler(r, this.upstream.streams.get(r.serve)!, this.upstream.admission, rlog, this.upstream.status?.onClient);
      case 'static': return staticHandler(r, this.cfg, rlog, this.statics);
      case 'api': return apiHandler(r, rlog, this.cfg, this.upstream);
    }
  }
}
