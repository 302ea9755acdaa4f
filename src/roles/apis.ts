import type { API_TYPES, Config, ResourceConfig } from '../config/schema.js';
import { EVT, type Logger } from '../log/logger.js';
import type { Handler } from '../http/server.js';
import { checkHandler, controlHandler, healthHandler, notFoundHandler, statisticsHandler, type ApiContext, type ControlledStream } from '../http/api.js';
import type { PrometheusMetrics } from '../metrics/prometheus.js';
import type { StatusApi } from '../status/index.js';
import { createPlaylist } from '../status/playlist.js';
import { statusForward } from '../status/forward.js';
import { TrustedProxies } from '../status/urls.js';
import type { ForwardKind, ForwardQuery } from '../cluster/primary-proxy.js';

// Every API type, one entry each: its handler, whether it needs the upstreams, and so
// how it is answered in multi-process mode. Adding an API type = its module (the handler)
// and one entry here; the roots (single.ts, primary.ts, worker.ts) and upstream.ts ask
// this module and never switch on the API type. The record is typed by the schema's
// API_TYPES, so a type without an entry does not compile.

type ApiType = (typeof API_TYPES)[number];

/** What an API over the upstreams is built from: the upstream side (upstream.ts) of a single process or primary. */
export interface ApiUpstreams {
  /** Streams, statistics, connections and limits as the JSON and text APIs read them. */
  readonly api: ApiContext;
  /** Built when the configuration has a prometheus resource. */
  readonly metrics: PrometheusMetrics | undefined;
  /** Built when the configuration has a status resource. */
  readonly status: StatusApi | undefined;
  /** The status page answers a worker's forwarded requests (multi-process primary). */
  readonly forwardedStatus: boolean;
}

/** Needs only the configuration: every process answers it itself, a multi-process worker too. */
interface ConfigApi {
  readonly upstreams: false;
  handler(cfg: Config, r: ResourceConfig, rlog: Logger): Handler;
}

/**
 * Reads the upstreams (streams, statistics, metrics): answered where they are, in one
 * process or in the primary, to which a multi-process worker forwards each request.
 */
interface UpstreamsApi {
  readonly upstreams: true;
  handler(u: ApiUpstreams, r: ResourceConfig, rlog: Logger): Handler;
  /** How the worker re-makes the request for the primary (what crosses: cluster/primary-proxy.ts). */
  readonly forward: ForwardKind;
  /** The forwarded method and query, built by the API itself from parsed values (the status page). */
  query?(cfg: Config): ForwardQuery;
}

type ApiKind = ConfigApi | UpstreamsApi;

// What a process holds in memory is what its configuration uses (issue 24): the modules
// of the prometheus API (with prom-client) and of the status page are imported only for a
// configuration with such a resource, by preloadApis(), which the CLI awaits before it
// builds the roles, at start and on every reload. A worker never loads them: it forwards
// those APIs to the primary.

/** The modules loaded on demand, by the API type that needs them. */
interface ApiModules {
  prometheus: typeof import('../metrics/prometheus.js');
  status: typeof import('../status/index.js');
}

const loaded: Partial<ApiModules> = {};

const hasApi = (cfg: Config, api: keyof ApiModules): boolean => cfg.resources.some((r) => r.type === 'api' && r.api === api);

/** Imports the modules the configuration's API resources need (each once per process). */
export async function preloadApis(cfg: Config): Promise<void> {
  if (hasApi(cfg, 'prometheus')) loaded.prometheus ??= await import('../metrics/prometheus.js');
  if (hasApi(cfg, 'status')) loaded.status ??= await import('../status/index.js');
}

/**
 * The module of `api` when the configuration has such a resource (preloadApis() loaded it),
 * else undefined: nothing of that API is built.
 */
export function apiModule<K extends keyof ApiModules>(cfg: Config, api: K): ApiModules[K] | undefined {
  if (!hasApi(cfg, api)) return undefined;
  const m = loaded[api];
  if (!m) throw new Error(`the ${api} API's module is not loaded: await preloadApis(cfg) before building the roles`);
  return m;
}

const API_KINDS: Readonly<Record<ApiType, ApiKind>> = {
  health: { upstreams: true, handler: (u) => healthHandler(u.api), forward: 'api' },
  statistics: { upstreams: true, handler: (u) => statisticsHandler(u.api), forward: 'api' },
  check: { upstreams: true, handler: (u, r, rlog) => onTarget(u, r, rlog, checkHandler), forward: 'api' },
  control: {
    upstreams: true,
    handler: (u, r, rlog) => onTarget(u, r, rlog, (target) => {
      // Compatible with the original, but anyone who can reach it can take streams down.
      if (!r.authentication?.type) rlog.warn({ evt: EVT.warning, api: 'control' }, 'control API without authentication: anyone who can reach it can switch the stream offline');
      return controlHandler(target);
    }),
    forward: 'control',
  },
  prometheus: {
    upstreams: true,
    handler: (u) => {
      const m = u.metrics!;
      return (req, res) => m.handle(req, res);
    },
    forward: 'prometheus',
  },
  status: {
    upstreams: true,
    handler: (u, r, rlog) => u.status!.page(r, rlog, u.forwardedStatus),
    forward: 'status',
    query: (cfg) => {
      const trusted = new TrustedProxies(cfg.trustedproxies);
      return (req) => statusForward(req, trusted);
    },
  },
  playlist: { upstreams: false, handler: (cfg) => createPlaylist(cfg) },
};

/** check and control act on the stream named by `remote`; a missing one is logged and answered 404. */
function onTarget(u: ApiUpstreams, r: ResourceConfig, rlog: Logger, make: (target: ControlledStream) => Handler): Handler {
  const target = r.remote !== undefined ? u.api.streams.get(r.remote) : undefined;
  if (target) return make(target);
  rlog.warn({ evt: EVT.warning, api: r.api, remote: r.remote }, `${r.api ?? ''} API: no stream is served on ${JSON.stringify(r.remote)}; answering 404`);
  return notFoundHandler();
}

function kindOf(r: ResourceConfig): ApiKind | undefined {
  return r.api === undefined ? undefined : API_KINDS[r.api];
}

/** The handler of an API resource where the upstreams are (single process, multi-process primary). */
export function apiHandler(r: ResourceConfig, rlog: Logger, cfg: Config, u: ApiUpstreams): Handler {
  const k = kindOf(r);
  if (!k) {
    rlog.warn({ evt: EVT.warning, api: r.api }, 'resource of type "api" without a known "api"; answering 404');
    return notFoundHandler();
  }
  return k.upstreams ? k.handler(u, r, rlog) : k.handler(cfg, r, rlog);
}

/**
 * The handler of an API resource in a multi-process worker: its own where the API needs
 * only the configuration, else `forward`'s (to the primary, as the API's entry says).
 */
export function workerApiHandler(r: ResourceConfig, rlog: Logger, cfg: Config,
  forward: (kind: ForwardKind, query: ForwardQuery | undefined) => Handler): Handler {
  const k = kindOf(r);
  // Unknown: the primary logs it and answers 404, as one process does.
  if (!k) return forward('api', undefined);
  return k.upstreams ? forward(k.forward, k.query?.(cfg)) : k.handler(cfg, r, rlog);
}

/** Whether an API reads the upstreams (a multi-process primary then waits for the workers' counters first). */
export function needsUpstreams(r: ResourceConfig): boolean {
  return kindOf(r)?.upstreams ?? false;
}
