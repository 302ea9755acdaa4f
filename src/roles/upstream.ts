import { resourceUpstreams, type Config, type ResourceConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { EVT } from '../log/logger.js';
import { Admission } from '../stream/admission.js';
import type { ApiContext } from '../http/api.js';
import { StatsCollector, type ResponseCounter } from '../metrics/stats.js';
import type { PrometheusMetrics } from '../metrics/prometheus.js';
import { Notifier } from '../events/notifier.js';
import { LimitWatcher } from '../events/limits.js';
import { redactUrl } from '../log/redact.js';
import type { Stream } from '../stream/stream.js';
import type { StreamOutput, StreamView } from '../stream/contracts.js';
import type { ReloadPlan } from '../reload.js';
import type { ClientRegistry, StatusApi } from '../status/index.js';
import { apiModule, type ApiUpstreams } from './apis.js';

/**
 * How a composition root with upstreams (single.ts, primary.ts) shapes them: where each
 * stream's packets go, how its counters are seen, whose responses are counted.
 */
interface UpstreamParts<O extends StreamOutput> {
  /** A stream that starts with this configuration (`i`: its index among the stream resources). */
  newStream(r: ResourceConfig, i: number): Stream<O>;
  /** The stream as statistics, metrics and the status page see it. */
  view(s: Stream<O>, i: number): StreamView;
  /** Its stream responses by status; `carried`: those of the configuration replaced, if the stream is kept. */
  responses(r: ResourceConfig, i: number, carried: ResponseCounter | undefined): ResponseCounter;
  /** This process holds the clients (the status page lists them). */
  clientDetails: boolean;
  /** The status page answers a worker's forwarded requests (multi-process primary). */
  forwardedStatus: boolean;
}

/** What the upstream side built by a reload takes over from the one it replaces. */
export interface UpstreamCarry<O extends StreamOutput> {
  admission: Admission;
  /** Streams kept as they are: upstream connection and clients. */
  streams: ReadonlyMap<string, Stream<O>>;
  responses: ReadonlyMap<string, ResponseCounter>;
  /** Streams the control API had switched offline. */
  offline: ReadonlySet<string>;
  /** The soft limit was reached (limit_hit sent, no limit_miss since). */
  limitHit: boolean;
  /** The viewers the status page knows (single process). */
  statusClients: ClientRegistry | undefined;
  draining: boolean;
}

/**
 * The upstream side of a process (single, or a multi-process primary): the streams with
 * their supervisors, admission and the limits, notifications, statistics, metrics, status
 * page, and what the APIs over them are built from (apis.ts).
 */
export class UpstreamSide<O extends StreamOutput> implements ApiUpstreams {
  readonly streams = new Map<string, Stream<O>>();
  /** Stream requests by response status, per stream (for the metrics). */
  readonly responses = new Map<string, ResponseCounter>();
  readonly admission: Admission;
  readonly stats: StatsCollector;
  readonly notifier: Notifier;
  readonly limits: LimitWatcher;
  readonly metrics: PrometheusMetrics | undefined;
  readonly status: StatusApi | undefined;
  readonly api: ApiContext;
  readonly forwardedStatus: boolean;
  private draining: boolean;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly cfg: Config, private readonly log: Logger, parts: UpstreamParts<O>, carried?: UpstreamCarry<O>) {
    this.admission = carried?.admission ?? new Admission(cfg.maxconnections);
    this.admission.setMax(cfg.maxconnections);
    this.draining = carried?.draining ?? false;
    const streamResources = cfg.resources.filter((r) => r.type === 'stream');
    this.notifier = new Notifier({ notifications: cfg.notifications, userlist: cfg.userlist, heartbeatIntervalS: cfg.heartbeatinterval, log });
    this.limits = new LimitWatcher(cfg.fullconnections, () => this.limitEvent('limit_hit'), () => this.limitEvent('limit_miss'), carried?.limitHit);
    this.limits.update(this.admission.connections);
    this.unsubscribe.push(this.admission.onChange((n) => this.limits.update(n)));
    // Streams first: the APIs and metrics refer to them.
    const views: StreamView[] = [];
    streamResources.forEach((r, i) => {
      let s = carried?.streams.get(r.serve);
      const kept = s !== undefined;
      if (!s) {
        s = parts.newStream(r, i);
        if (carried?.offline.has(r.serve)) s.setOffline(true);
      }
      this.streams.set(r.serve, s);
      views.push(parts.view(s, i));
      this.responses.set(r.serve, parts.responses(r, i, kept ? carried?.responses.get(r.serve) : undefined));
    });
    // Alarms of the health checks go to the webhooks of this configuration (kept streams: re-subscribed, retire() drops the old).
    for (const s of this.streams.values()) {
      this.unsubscribe.push(s.health.subscribe((a) => { this.notifier.emit(a.raised ? 'alarm_raised' : 'alarm_cleared', { stream: a.stream, indicator: a.indicator, remote: a.remote }); }));
    }
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
    // Built only with a resource serving them (their modules are loaded only then: apis.ts).
    const status = apiModule(cfg, 'status');
    if (status) {
      const streams = [...this.streams.values()].map((s, i) => ({ control: s, view: views[i]! }));
      this.status = new status.StatusApi({ cfg, streams, stats: this.stats, connections: () => this.admission.connections, redact: redactUrl, clientDetails: parts.clientDetails, carriedClients: carried?.statusClients, log });
    }
    const prometheus = apiModule(cfg, 'prometheus');
    if (prometheus) {
      this.metrics = new prometheus.PrometheusMetrics({
        streams: streamResources.map((r, i) => ({
          view: views[i]!,
          remotes: resourceUpstreams(r),
          responses: this.responses.get(r.serve)!,
        })),
        stats: this.stats,
        profile: cfg.profile,
        notifications: cfg.notifications.length > 0 ? this.notifier : undefined,
        redact: redactUrl,
        log,
      });
    }
    this.forwardedStatus = parts.forwardedStatus;
  }

  /** Start upstreams (those not running yet), statistics and heartbeat. */
  start(): void {
    for (const s of this.streams.values()) s.start();
    this.stats.start();
    this.notifier.start();
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

  /** What the upstream side of the next configuration takes over (streams the plan keeps). */
  carry(plan: ReloadPlan): UpstreamCarry<O> {
    const kept = new Map(plan.keep.map((serve) => [serve, this.streams.get(serve)!]).filter(([, s]) => s !== undefined) as [string, Stream<O>][]);
    const offline = new Set([...this.streams.values()].filter((s) => s.offline).map((s) => s.name));
    return {
      admission: this.admission, streams: kept, responses: this.responses, offline,
      limitHit: this.limits.isHit, statusClients: this.status?.clients, draining: this.draining,
    };
  }

  /** After a reload: close what the next upstream side did not take over. */
  retire(kept: ReadonlyMap<string, Stream<O>>): void {
    const keep = new Set(kept.values());
    for (const u of this.unsubscribe.splice(0)) u();
    for (const s of this.streams.values()) if (!keep.has(s)) s.close();
    this.status?.close();
    this.notifier.close();
    this.stats.close();
    this.metrics?.close();
  }

  close(): void {
    for (const s of this.streams.values()) s.close();
    this.notifier.close();
    this.stats.close();
    this.metrics?.close();
    this.status?.close();
  }

  private limitEvent(event: 'limit_hit' | 'limit_miss'): void {
    this.log.info({ evt: EVT.notify, event, connections: this.admission.connections, limit: this.cfg.fullconnections }, event === 'limit_hit' ? 'soft connection limit reached' : 'back below the soft connection limit');
    this.notifier.emit(event);
  }
}
