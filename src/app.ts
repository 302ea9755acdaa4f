import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { resourceUpstreams, type Config, type ResourceConfig } from './config/schema.js';
import { parseListen } from './config/listen.js';
import type { Logger } from './log/logger.js';
import { EVT } from './log/logger.js';
import { createAuthorizer } from './auth/auth.js';
import { Admission } from './hub/admission.js';
import { StreamHub } from './hub/hub.js';
import type { StreamMirror } from './hub/output.js';
import { HttpFront, defaultNotFound, type Handler } from './http/server.js';
import { StreamEndpoint, type AdmissionGate, type StreamState } from './http/stream.js';
import { StaticResource } from './http/static.js';
import { requireAuth, withAccessLog } from './http/access.js';
import { checkHandler, controlHandler, healthHandler, notFoundHandler, statisticsHandler, type ApiContext } from './http/api.js';
import { StatsCollector, StatusCounts, type StreamView } from './metrics/stats.js';
import { PrometheusMetrics } from './metrics/prometheus.js';
import { Notifier } from './events/notifier.js';
import { LimitWatcher } from './events/limits.js';
import { redactUrl } from './sources/http.js';
import { Stream } from './streams.js';
import type { WorkerCounters } from './cluster/counters.js';
import type { WorkerRpc } from './cluster/rpc.js';
import type { WorkerStreamCounters } from './cluster/protocol.js';
import { RemoteAdmission, RemoteStream } from './cluster/remote.js';
import { aggregatedResponses, aggregatedView } from './cluster/views.js';
import { primaryProxy } from './cluster/primary-proxy.js';
import { StatusApi, createPlaylist, wantsStatus } from './status/index.js';

/**
 * How this process takes part:
 * - single: everything in one process (workers: 1).
 * - primary (multi-process): upstreams, admission, APIs on an internal socket; the
 *   workers get every packet through `mirror` and report their counters.
 * - worker (multi-process): HTTP clients; admission and APIs are the primary's.
 */
export type AppRole =
  | { role: 'single' }
  | { role: 'primary'; mirror: (streamIndex: number) => StreamMirror; counters: WorkerCounters; refresh: () => Promise<void> }
  | { role: 'worker'; rpc: WorkerRpc; apiSocket: string };

interface ResponseCounter { add(status: number): void; entries(): IterableIterator<[number, number]> }

/**
 * Composition root: builds every component from a validated config and wires them.
 * Nothing else in src/ knows about more than its neighbours.
 */
export class App {
  /** Upstream-side streams (single and primary roles). */
  readonly streams = new Map<string, Stream>();
  /** Client-side streams of a worker, by stream index. */
  readonly remoteStreams: RemoteStream[] = [];
  readonly admission: Admission;
  readonly front: HttpFront;
  readonly stats: StatsCollector | undefined;
  readonly notifier: Notifier | undefined;
  readonly limits: LimitWatcher | undefined;
  readonly metrics: PrometheusMetrics | undefined;
  private readonly statics: StaticResource[] = [];
  /** Stream requests by response status, per stream (for the metrics). */
  private readonly responses = new Map<string, ResponseCounter>();
  private readonly api: ApiContext | undefined;
  private readonly gate: AdmissionGate;
  private readonly status: StatusApi | undefined;
  private closed: Promise<void> | undefined;

  constructor(readonly cfg: Config, readonly log: Logger, readonly role: AppRole = { role: 'single' }) {
    this.admission = new Admission(cfg.maxconnections);
    this.front = new HttpFront(withAccessLog(defaultNotFound, { log }));
    const streamResources = cfg.resources.filter((r) => r.type === 'stream');

    if (role.role === 'worker') {
      this.gate = new RemoteAdmission(role.rpc);
      streamResources.forEach((r, i) => {
        const hub = new StreamHub({
          outputBufferPackets: cfg.outputbuffer, ringPackets: cfg.inputbuffer, batchMs: cfg.batchms,
          maxBatchMs: cfg.batchmaxms ?? undefined, deferBursts: true, start: r.start, slowTimeoutMs: cfg.slowtimeout * 1000,
        });
        this.remoteStreams.push(new RemoteStream(i, r.serve, hub, r.ondemand, role.rpc));
        this.responses.set(r.serve, new StatusCounts());
      });
    } else {
      this.gate = this.admission;
      this.notifier = new Notifier({ notifications: cfg.notifications, userlist: cfg.userlist, heartbeatIntervalS: cfg.heartbeatinterval, log });
      this.limits = new LimitWatcher(cfg.fullconnections, () => this.limitEvent('limit_hit'), () => this.limitEvent('limit_miss'));
      this.admission.onChange((n) => this.limits?.update(n));
      // Streams first: the APIs and metrics refer to them.
      const views: StreamView[] = [];
      streamResources.forEach((r, i) => {
        const s = new Stream(r, cfg, log, role.role === 'primary' ? role.mirror(i) : undefined);
        this.streams.set(r.serve, s);
        views.push(role.role === 'primary' ? aggregatedView(s, i, role.counters) : s);
        this.responses.set(r.serve, role.role === 'primary' ? aggregatedResponses(i, role.counters) : new StatusCounts());
      });
      this.stats = new StatsCollector({
        streams: views,
        connections: () => this.admission.connections,
        maxConnections: cfg.maxconnections,
        fullConnections: cfg.fullconnections,
        enabled: !cfg.nostats,
        redact: redactUrl,
      });
      this.api = {
        stats: this.stats,
        connections: () => this.admission.connections,
        maxConnections: cfg.maxconnections,
        fullConnections: cfg.fullconnections,
        streams: this.streams,
      };
      if (wantsStatus(cfg)) {
        const streams = [...this.streams.values()].map((s, i) => ({ control: s, view: views[i]! }));
        this.status = new StatusApi({ cfg, streams, stats: this.stats, connections: () => this.admission.connections, redact: redactUrl, clientDetails: role.role === 'single', log });
      }
      if (cfg.resources.some((r) => r.type === 'api' && r.api === 'prometheus')) {
        this.metrics = new PrometheusMetrics({
          streams: streamResources.map((r, i) => ({
            view: views[i]!,
            remotes: resourceUpstreams(r),
            responses: this.responses.get(r.serve)! as StatusCounts,
          })),
          stats: this.stats,
          profile: cfg.profile,
          notifications: cfg.notifications.length > 0 ? this.notifier : undefined,
          redact: redactUrl,
          log,
        });
      }
    }

    for (const r of cfg.resources) {
      const rlog = log.child({ resource: r.serve });
      if (role.role === 'primary') {
        // The internal socket: workers already authorised and logged the request. APIs
        // need the workers' latest counters; static resources keep one cache here.
        if (r.type === 'stream') continue;
        const h = this.handlerFor(r, rlog);
        this.front.route(r.serve, r.type === 'api' ? (req, res) => { void role.refresh().then(() => h(req, res)); } : h);
        continue;
      }
      const handler = this.handlerFor(r, rlog);
      const authorized = requireAuth(handler, createAuthorizer(r.authentication, cfg.userlist));
      const counts = this.responses.get(r.serve);
      this.front.route(r.serve, withAccessLog(authorized, { log: rlog, onStatus: counts && ((s) => counts.add(s)) }));
    }
  }

  /** Single process: start upstreams, statistics and heartbeat, and listen. */
  async start(): Promise<AddressInfo> {
    const { host, port } = parseListen(this.cfg.listen);
    const addr = await this.front.listen(host, port);
    this.startUpstreams();
    this.log.info({ evt: EVT.listen, address: addr.address, port: addr.port }, 'listening');
    return addr;
  }

  /** Primary: serve the APIs to the workers on a Unix socket. */
  startInternal(path: string): Promise<void> {
    return this.front.listenPath(path);
  }

  startUpstreams(): void {
    for (const s of this.streams.values()) s.start();
    this.stats?.start();
    this.notifier?.start();
  }

  /** Worker: per-stream counters for the primary. */
  workerCounters(): WorkerStreamCounters[] {
    const now = Date.now();
    return this.remoteStreams.map((s) => ({
      packetsSent: s.hub.packetsSent,
      packetsDropped: s.hub.packetsDropped,
      clients: s.hub.clientCount,
      clientMs: s.hub.clientMs(now),
      responses: [...(this.responses.get(s.name)?.entries() ?? [])],
    }));
  }

  /** Graceful shutdown: stop accepting, end clients, close upstreams. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      const closing = this.front.close();
      for (const s of this.streams.values()) s.close();
      for (const s of this.remoteStreams) s.hub.close();
      for (const s of this.statics) s.close();
      this.notifier?.close();
      this.stats?.close();
      this.metrics?.close();
      this.status?.close();
      await closing;
    })();
    return this.closed;
  }

  private handlerFor(r: ResourceConfig, rlog: Logger): Handler {
    switch (r.type) {
      case 'stream': {
        const preamble = r.preamble ? readFileSync(r.preamble) : undefined;
        const stream: StreamState = this.streams.get(r.serve) ?? this.remoteStreams.find((s) => s.name === r.serve)!;
        const ep = new StreamEndpoint({ stream, admission: this.gate, preamble, log: rlog, onClient: this.status?.onClient });
        return (req, res) => ep.handle(req, res);
      }
      case 'static': {
        if (this.role.role === 'worker') return primaryProxy(this.role.apiSocket);
        const timeoutMs = this.cfg.timeout > 0 ? this.cfg.timeout * 1000 : undefined;
        const st = new StaticResource({ remote: r.remote ?? '', cacheS: r.cache, timeoutMs, log: rlog });
        this.statics.push(st);
        return (req, res) => st.handle(req, res);
      }
      case 'api':
        if (r.api === 'playlist') return createPlaylist(this.cfg);
        if (this.role.role === 'worker') return primaryProxy(this.role.apiSocket);
        return this.apiHandler(r, rlog);
    }
  }

  private apiHandler(r: ResourceConfig, rlog: Logger): Handler {
    const api = this.api!;
    const target = r.remote !== undefined ? this.streams.get(r.remote) : undefined;
    switch (r.api) {
      case 'health': return healthHandler(api);
      case 'statistics': return statisticsHandler(api);
      case 'prometheus': {
        const m = this.metrics!;
        return (req, res) => m.handle(req, res);
      }
      case 'status': return this.status!.page(r, rlog);
      case 'check':
      case 'control':
        if (!target) {
          rlog.warn({ evt: EVT.warning, api: r.api, remote: r.remote }, `${r.api} API: no stream is served on ${JSON.stringify(r.remote)}; answering 404`);
          return notFoundHandler();
        }
        if (r.api === 'check') return checkHandler(target);
        // Compatible with the original, but anyone who can reach it can take streams down.
        if (!r.authentication?.type) rlog.warn({ evt: EVT.warning, api: 'control' }, 'control API without authentication: anyone who can reach it can switch the stream offline');
        return controlHandler(target);
      default:
        rlog.warn({ evt: EVT.warning, api: r.api }, 'resource of type "api" without a known "api"; answering 404');
        return notFoundHandler();
    }
  }

  private limitEvent(event: 'limit_hit' | 'limit_miss'): void {
    this.log.info({ evt: EVT.notify, event, connections: this.admission.connections, limit: this.cfg.fullconnections }, event === 'limit_hit' ? 'soft connection limit reached' : 'back below the soft connection limit');
    this.notifier?.emit(event);
  }
}
