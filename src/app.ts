import { readFileSync } from 'node:fs';
import type { Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resourceUpstreams, type Config, type ResourceConfig } from './config/schema.js';
import { parseListen } from './config/listen.js';
import type { Logger } from './log/logger.js';
import { EVT } from './log/logger.js';
import { createAuthorizer } from './auth/auth.js';
import { Admission } from './hub/admission.js';
import { createHub } from './hub/create.js';
import type { StreamMirror } from './hub/output.js';
import { HttpFront, defaultNotFound, type Handler } from './http/server.js';
import { StreamEndpoint } from './http/stream.js';
import type { AdmissionGate, StreamState, StreamView } from './stream/contracts.js';
import { StaticResource, DEFAULT_TIMEOUT_MS as STATIC_TIMEOUT_MS } from './http/static.js';
import { requireAuth, withAccessLog } from './http/access.js';
import { checkHandler, controlHandler, healthHandler, notFoundHandler, statisticsHandler, type ApiContext } from './http/api.js';
import { StatsCollector, StatusCounts } from './metrics/stats.js';
import { PrometheusMetrics } from './metrics/prometheus.js';
import { Notifier } from './events/notifier.js';
import { LimitWatcher } from './events/limits.js';
import { redactUrl } from './sources/http.js';
import { Stream } from './streams.js';
import { planReload, type ReloadPlan } from './reload.js';
import type { WorkerCounters } from './cluster/counters.js';
import type { WorkerRpc } from './cluster/rpc.js';
import type { WorkerStreamCounters } from './cluster/protocol.js';
import { RemoteAdmission, RemoteStream } from './cluster/remote.js';
import { aggregatedResponses, aggregatedView } from './cluster/views.js';
import { internalAgent, primaryProxy, type ForwardKind } from './cluster/primary-proxy.js';
import { PrimaryApiServer } from './cluster/primary-api.js';
import { StatusApi, TrustedProxies, createPlaylist, statusForward, wantsStatus, type ClientRegistry } from './status/index.js';

/**
 * How this process takes part:
 * - single: everything in one process (workers: 1).
 * - primary (multi-process): upstreams, admission, APIs on an internal socket; the
 *   workers get every packet through `mirror` and report their counters.
 * - worker (multi-process): HTTP clients; admission and APIs are the primary's.
 */
export type AppRole =
  | { role: 'single' }
  | { role: 'primary'; mirror: (slot: number) => StreamMirror; counters: WorkerCounters; refresh: () => Promise<void>; apiSecret: string; slots: readonly number[] }
  | { role: 'worker'; rpc: WorkerRpc; apiSocket: string; apiSecret: string; slots: readonly number[]; generation: number };

// Multi-process mode: each stream has a slot, its number on the data pipe and in the
// workers' reports. Slots never change for a stream that runs on; a reload gives
// restarted and added streams new ones (`slots[i]` is the slot of the i-th stream
// resource), so no frame of an old stream can reach a new one.

interface ResponseCounter { add(status: number): void; entries(): IterableIterator<[number, number]> }

/** What an App built by reload() takes over from the one it replaces (single process). */
interface Carried {
  front: HttpFront;
  admission: Admission;
  /** Streams kept as they are: upstream connection and clients. */
  streams: ReadonlyMap<string, Stream>;
  responses: ReadonlyMap<string, ResponseCounter>;
  /** Streams the control API had switched offline. */
  offline: ReadonlySet<string>;
  /** The soft limit was reached (limit_hit sent, no limit_miss since). */
  limitHit: boolean;
  /** The generation of the configuration being replaced. */
  generation: number;
  /** Primary: the internal API server (listening). */
  internal?: PrimaryApiServer;
  /** Worker: its client-side streams, by slot; those whose slot stays are kept. */
  remoteStreams?: ReadonlyMap<number, RemoteStream>;
  /** Worker: the connections to the primary's internal server. */
  internalAgent?: Agent;
  /** The viewers the status page knows (single process). */
  statusClients?: ClientRegistry;
}

/** A reload that cannot be applied while running (listen address, worker count). */
export class ReloadRefused extends Error {
  constructor(readonly refused: ReloadPlan['refused']) {
    super(refused.map((r) => `"${r.key}" cannot change while running (${JSON.stringify(r.from)} -> ${JSON.stringify(r.to)}): restart to apply it`).join('; '));
    this.name = 'ReloadRefused';
  }
}

/**
 * Composition root: builds every component from a validated config and wires them.
 * Nothing else in src/ knows about more than its neighbours.
 */
export class App {
  /** Upstream-side streams (single and primary roles). */
  readonly streams = new Map<string, Stream>();
  /** Client-side streams of a worker, by slot. */
  readonly remoteStreams = new Map<number, RemoteStream>();
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
  /** Primary: the internal server that answers the workers' API and static requests. */
  private readonly internal: PrimaryApiServer | undefined;
  /** Worker: connections to the primary's internal server. */
  private readonly internalAgent: Agent | undefined;
  private readonly status: StatusApi | undefined;
  private closed: Promise<void> | undefined;
  private draining = false;
  /** Configuration generation: 0 at start, one more per reload (multi-process: names the config a forwarded request was authorised under). */
  readonly generation: number;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(readonly cfg: Config, readonly log: Logger, readonly role: AppRole = { role: 'single' }, carried?: Carried) {
    // A worker runs the generation the primary gives it (it may start after reloads).
    this.generation = role.role === 'worker' ? role.generation : carried ? carried.generation + 1 : 0;
    this.admission = carried?.admission ?? new Admission(cfg.maxconnections);
    this.admission.setMax(cfg.maxconnections);
    this.front = carried?.front ?? new HttpFront(withAccessLog(defaultNotFound, { log }), { log, wrap: (h) => withAccessLog(h, { log }) });
    const streamResources = cfg.resources.filter((r) => r.type === 'stream');

    if (role.role === 'worker') {
      this.gate = new RemoteAdmission(role.rpc);
      streamResources.forEach((r, i) => {
        const slot = role.slots[i] ?? i;
        const kept = carried?.remoteStreams?.get(slot);
        if (kept) {
          this.remoteStreams.set(slot, kept);
          this.responses.set(r.serve, carried!.responses.get(r.serve) ?? new StatusCounts());
          return;
        }
        const hub = createHub(cfg, r);
        this.remoteStreams.set(slot, new RemoteStream(slot, r.serve, hub, r.ondemand, role.rpc));
        this.responses.set(r.serve, new StatusCounts());
      });
    } else {
      this.gate = this.admission;
      this.notifier = new Notifier({ notifications: cfg.notifications, userlist: cfg.userlist, heartbeatIntervalS: cfg.heartbeatinterval, log });
      this.limits = new LimitWatcher(cfg.fullconnections, () => this.limitEvent('limit_hit'), () => this.limitEvent('limit_miss'), carried?.limitHit);
      this.limits.update(this.admission.connections);
      this.unsubscribe.push(this.admission.onChange((n) => this.limits?.update(n)));
      // Streams first: the APIs and metrics refer to them.
      const views: StreamView[] = [];
      streamResources.forEach((r, i) => {
        const slot = role.role === 'primary' ? role.slots[i] ?? i : i;
        let s = carried?.streams.get(r.serve);
        if (!s) {
          s = new Stream(r, cfg, log, role.role === 'primary' ? role.mirror(slot) : undefined);
          if (carried?.offline.has(r.serve)) s.setOffline(true);
        }
        this.streams.set(r.serve, s);
        views.push(role.role === 'primary' ? aggregatedView(s, slot, role.counters) : s);
        this.responses.set(r.serve, role.role === 'primary' ? aggregatedResponses(slot, role.counters) : (carried?.streams.has(r.serve) && carried.responses.get(r.serve)) || new StatusCounts());
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
        draining: () => this.draining,
      };
      if (wantsStatus(cfg)) {
        const streams = [...this.streams.values()].map((s, i) => ({ control: s, view: views[i]! }));
        this.status = new StatusApi({ cfg, streams, stats: this.stats, connections: () => this.admission.connections, redact: redactUrl, clientDetails: role.role === 'single', carriedClients: carried?.statusClients, log });
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

    if (role.role === 'primary') this.internal = carried?.internal ?? new PrimaryApiServer(role.apiSecret);
    if (role.role === 'worker') this.internalAgent = carried?.internalAgent ?? internalAgent();
    const routes: [string, Handler][] = [];
    const internalRoutes = new Map<number, Handler>();
    cfg.resources.forEach((r, index) => {
      const rlog = log.child({ resource: r.serve });
      if (role.role === 'primary') {
        // The internal socket, by resource index: the worker where the request arrived
        // authorised and logged it. APIs need the workers' latest counters; static
        // resources keep one cache here.
        if (r.type === 'stream') return;
        const h = this.handlerFor(r, rlog, index);
        internalRoutes.set(index, r.type === 'api' ? (req, res) => { void role.refresh().then(() => h(req, res)); } : h);
        return;
      }
      const handler = this.handlerFor(r, rlog, index);
      const authorized = requireAuth(handler, createAuthorizer(r.authentication, cfg.userlist));
      const counts = this.responses.get(r.serve);
      routes.push([r.serve, withAccessLog(authorized, { log: rlog, onStatus: counts && ((s) => counts.add(s)) })]);
    });
    this.front.setRoutes(routes);
    this.internal?.setRoutes(this.generation, internalRoutes);
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
    if (!this.internal) return Promise.reject(new Error('internal API server exists only in the primary'));
    return this.internal.listen(path);
  }

  startUpstreams(): void {
    for (const s of this.streams.values()) s.start();
    this.stats?.start();
    this.notifier?.start();
  }

  /** Worker: per-stream counters for the primary, by slot (zeros for slots not here). */
  workerCounters(): WorkerStreamCounters[] {
    const now = Date.now();
    const out: WorkerStreamCounters[] = [];
    const top = Math.max(-1, ...this.remoteStreams.keys());
    for (let slot = 0; slot <= top; slot++) {
      const s = this.remoteStreams.get(slot);
      out.push(s
        ? { packetsSent: s.hub.packetsSent, packetsDropped: s.hub.packetsDropped, clients: s.hub.clientCount, clientMs: s.hub.clientMs(now), responses: [...(this.responses.get(s.name)?.entries() ?? [])] }
        : { packetsSent: 0, packetsDropped: 0, clients: 0, clientMs: 0, responses: [] });
    }
    return out;
  }

  /**
   * SIGTERM with a drain time: health reports "full" (and `draining`) at once so load
   * balancers stop sending; the viewers there keep streaming. Resolves when the last one
   * has left or `ms` have passed, whichever is first; close() follows.
   */
  drain(ms: number): Promise<void> {
    this.draining = true;
    const connections = () => this.admission.connections;
    this.log.info({ evt: EVT.shutdown, drainS: ms / 1000, connections: connections() }, 'draining: reported as full; waiting for viewers to leave');
    if (connections() === 0 || ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      t.unref();
      function done() { clearTimeout(t); resolve(); }
      this.unsubscribe.push(this.admission.onChange((n) => { if (n === 0) done(); }));
    });
  }

  /**
   * SIGHUP: apply a new configuration. Streams whose definition did not
   * change keep their upstream and every client; changed ones restart (their clients are
   * ended), removed ones end their clients, added ones start; routes, APIs, static
   * resources, users, limits and notifications are rebuilt. The listening socket and the
   * connection count carry over; a stream switched offline stays offline. Returns the new
   * App, which replaces this one; throws ReloadRefused (nothing changed) for a new listen
   * address or worker count. In multi-process mode the primary passes each role the new
   * slots (see Primary.reload).
   */
  reload(next: Config, role: AppRole = this.role, plan: ReloadPlan = planReload(this.cfg, next)): { app: App; plan: ReloadPlan } {
    if (plan.refused.length) throw new ReloadRefused(plan.refused);
    const kept = new Map(plan.keep.map((serve) => [serve, this.streams.get(serve)!]).filter(([, s]) => s !== undefined) as [string, Stream][]);
    const offline = new Set([...this.streams.values()].filter((s) => s.offline).map((s) => s.name));
    // Worker: the primary decides; a slot that stays is a stream that runs on.
    const slots = new Set(role.role === 'worker' ? role.slots : []);
    const keptRemote = new Map([...this.remoteStreams].filter(([slot]) => slots.has(slot)));
    const app = new App(next, this.log, role, {
      front: this.front, admission: this.admission, streams: kept, responses: this.responses, offline,
      limitHit: this.limits?.isHit ?? false, generation: this.generation, internal: this.internal,
      remoteStreams: keptRemote, internalAgent: this.internalAgent, statusClients: this.status?.clients,
    });
    this.retire(new Set(kept.values()), new Set(keptRemote.values()));
    app.startUpstreams();
    if (this.draining) app.draining = true;
    return { app, plan };
  }

  /** After a reload: close what the new App does not take over. */
  private retire(kept: ReadonlySet<Stream>, keptRemote: ReadonlySet<RemoteStream>): void {
    for (const u of this.unsubscribe.splice(0)) u();
    for (const s of this.streams.values()) if (!kept.has(s)) s.close();
    for (const s of this.remoteStreams.values()) if (!keptRemote.has(s)) s.hub.close();
    for (const s of this.statics) s.close();
    this.status?.close();
    this.notifier?.close();
    this.stats?.close();
    this.metrics?.close();
  }

  /** Graceful shutdown: stop accepting, end clients, close upstreams. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      const closing = Promise.all([this.front.close(), this.internal?.close()]);
      this.internalAgent?.destroy();
      for (const s of this.streams.values()) s.close();
      for (const s of this.remoteStreams.values()) s.hub.close();
      for (const s of this.statics) s.close();
      this.notifier?.close();
      this.stats?.close();
      this.metrics?.close();
      this.status?.close();
      await closing;
    })();
    return this.closed;
  }

  private handlerFor(r: ResourceConfig, rlog: Logger, index: number): Handler {
    switch (r.type) {
      case 'stream': {
        const preamble = r.preamble ? readFileSync(r.preamble) : undefined;
        const stream: StreamState = this.streams.get(r.serve) ?? [...this.remoteStreams.values()].find((s) => s.name === r.serve)!;
        const ep = new StreamEndpoint({ stream, admission: this.gate, preamble, log: rlog, onClient: this.status?.onClient });
        return (req, res) => ep.handle(req, res);
      }
      case 'static': {
        const timeoutMs = this.cfg.timeout > 0 ? this.cfg.timeout * 1000 : undefined;
        if (this.role.role === 'worker') return this.forward(index, 'static', (timeoutMs ?? STATIC_TIMEOUT_MS) + 2000);
        const st = new StaticResource({ remote: r.remote ?? '', cacheS: r.cache, timeoutMs, log: rlog });
        this.statics.push(st);
        return (req, res) => st.handle(req, res);
      }
      case 'api':
        if (r.api === 'playlist') return createPlaylist(this.cfg);
        if (this.role.role === 'worker') {
          if (r.api === 'status') return this.forwardStatus(index);
          return this.forward(index, r.api === 'control' ? 'control' : r.api === 'prometheus' ? 'prometheus' : 'api');
        }
        return this.apiHandler(r, rlog);
    }
  }

  /** Worker: a status page, answered by the primary from queries built here (src/status/forward.ts). */
  private forwardStatus(resourceIndex: number): Handler {
    if (this.role.role !== 'worker') throw new Error('forwarding is for workers');
    const trusted = new TrustedProxies(this.cfg.trustedproxies);
    return primaryProxy({
      socketPath: this.role.apiSocket, secret: this.role.apiSecret, generation: this.generation, resourceIndex, kind: 'status',
      agent: this.internalAgent!, query: (req) => statusForward(req, trusted),
    });
  }

  /** Worker: a resource the primary answers (see cluster/primary-proxy.ts). */
  private forward(resourceIndex: number, kind: ForwardKind, timeoutMs?: number): Handler {
    if (this.role.role !== 'worker') throw new Error('forwarding is for workers');
    return primaryProxy({ socketPath: this.role.apiSocket, secret: this.role.apiSecret, generation: this.generation, resourceIndex, kind, timeoutMs, agent: this.internalAgent! });
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
      case 'status': return this.status!.page(r, rlog, this.role.role === 'primary');
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
