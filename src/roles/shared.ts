import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Config, ResourceConfig, TlsConfig } from '../config/schema.js';
import { EVT, type Logger } from '../log/logger.js';
import { expiryWarning, readTlsPair, type TlsPair } from '../http/tls.js';
import { createAuthorizer } from '../auth/auth.js';
import { AddressGuard, type AuthGuard } from '../auth/guard.js';
import { HttpFront, type Handler } from '../http/server.js';
import { defaultNotFound } from '../http/answers.js';
import { StreamEndpoint, type AdmittedClient } from '../http/stream.js';
import { StaticResource } from '../http/static.js';
import { requireAuth, withAccessLog } from '../http/access.js';
import type { ResponseCounter } from '../metrics/stats.js';
import type { AdmissionGate, StreamState } from '../stream/contracts.js';
import type { ReloadPlan } from '../reload.js';

// What the composition roots (single.ts, primary.ts, worker.ts) have in common: the
// public routes with authentication and access log, stream endpoints, static resources,
// and the rules of a reload.

/** What src/cli.ts runs: one process (single.ts) or a primary with workers (primary.ts). */
export interface Runner {
  /** The running configuration. */
  readonly cfg: Config;
  /** Listen and start the upstreams. */
  start(): Promise<AddressInfo>;
  /**
   * SIGHUP: apply a new configuration; returns the runner from now on (a single process
   * builds a new one that takes over; a primary stays). Throws ReloadRefused (nothing
   * changed) for a change that cannot be applied while running.
   */
  reload(next: Config): { runner: Runner; plan: ReloadPlan };
  /** SIGTERM with a drain time: see UpstreamSide.drain. */
  drain(ms: number): Promise<void>;
  /** Graceful shutdown. Idempotent. */
  close(): Promise<void>;
  /** SIGHUP/SIGUSR1: reopen other processes' logs (ours is reopened by cli.ts); a single process has none. */
  reopenLogs(): void;
}

/** A reload that cannot be applied while running (listen address, worker count). */
class ReloadRefused extends Error {
  constructor(readonly refused: ReloadPlan['refused']) {
    super(refused.map((r) => `"${r.key}" cannot change while running (${JSON.stringify(r.from)} -> ${JSON.stringify(r.to)}): restart to apply it`).join('; '));
    this.name = 'ReloadRefused';
  }
}

/** Throws ReloadRefused when the plan changes what cannot change while running. */
export function assertReloadable(plan: ReloadPlan): void {
  if (plan.refused.length) throw new ReloadRefused(plan.refused);
}

/** The public HTTP front: every answer, the front's own (404, redirects, 400) included, is logged. */
export function createFront(log: Logger): HttpFront {
  return new HttpFront(withAccessLog(defaultNotFound, { log }), { log, wrap: (h) => withAccessLog(h, { log }) });
}

/**
 * Brute-force protection of one process (`authfailures`, `authwindow`, `authblock`), which
 * logs each block once, when it begins.
 */
export function addressGuard(cfg: Config, log: Logger, nowMs?: () => number): AddressGuard {
  return new AddressGuard({
    failures: cfg.authfailures, windowMs: cfg.authwindow * 1000, blockMs: cfg.authblock * 1000, nowMs,
    onBlock: (address, failures, blockMs) => {
      log.warn({ evt: EVT.authBlocked, remote: address, failures, blockS: blockMs / 1000 },
        `${address}: ${failures} wrong credentials within ${cfg.authwindow} s; answered 429 for ${blockMs / 1000} s`);
    },
  });
}

/**
 * The public routes: each resource's handler behind its authentication (and `guard`'s
 * brute-force protection) and the access log; stream responses are counted by status for
 * the metrics.
 */
export function publicRoutes(cfg: Config, log: Logger, responses: ReadonlyMap<string, ResponseCounter>,
  handlerFor: (r: ResourceConfig, rlog: Logger, index: number) => Handler, guard: AuthGuard = addressGuard(cfg, log),
  hlsFor?: (r: ResourceConfig, rlog: Logger) => Handler | undefined): [string, Handler][] {
  return cfg.resources.flatMap((r, index): [string, Handler][] => {
    const rlog = log.child({ resource: r.serve });
    const authorizer = createAuthorizer(r.authentication, cfg.userlist);
    const authorized = requireAuth(handlerFor(r, rlog, index), authorizer, { guard });
    const counts = responses.get(r.serve);
    const routes: [string, Handler][] = [[r.serve, withAccessLog(authorized, { log: rlog, onStatus: counts && ((s) => counts.add(s)) })]];
    const hls = r.hls === undefined ? undefined : hlsFor?.(r, rlog);
    if (hls && r.hls !== undefined) {
      // The playlist and, in its subtree, the segments: same authentication as the stream.
      const h = withAccessLog(requireAuth(hls, authorizer, { guard }), { log: rlog });
      routes.push([r.hls, h], [`${r.hls}/`, h]);
    }
    return routes;
  });
}

/** The handler of a stream resource where its clients are (single process, worker). */
export function streamHandler(r: ResourceConfig, stream: StreamState, admission: AdmissionGate, rlog: Logger,
  onClient: ((c: AdmittedClient) => () => void) | undefined): Handler {
  const preamble = r.preamble ? readFileSync(r.preamble) : undefined;
  const ep = new StreamEndpoint({ stream, admission, preamble, log: rlog, onClient });
  return (req, res) => ep.handle(req, res);
}

/** Upstream request timeout of static resources, ms (`timeout`; undefined: the resource's default). */
export function staticTimeoutMs(cfg: Config): number | undefined {
  return cfg.timeout > 0 ? cfg.timeout * 1000 : undefined;
}

/** A static resource served from this process (added to `statics`, closed with the root). */
export function staticHandler(r: ResourceConfig, cfg: Config, rlog: Logger, statics: StaticResource[]): Handler {
  const st = new StaticResource({ remote: r.remote ?? '', cacheS: r.cache, timeoutMs: staticTimeoutMs(cfg), log: rlog });
  statics.push(st);
  return (req, res) => st.handle(req, res);
}

/**
 * The HTTPS pair of `tls`, read and judged (throws TLS_PAIR_INVALID); an expiry within
 * 14 days is warned about in the log. At start, and on every reload (certbot renewed it).
 */
export function loadTlsPair(tls: TlsConfig, log: Logger): TlsPair {
  const pair = readTlsPair(tls);
  const warning = expiryWarning(pair, tls);
  if (warning) log.warn({ evt: EVT.warning, cert: tls.cert, notAfter: pair.notAfter.toISOString() }, warning);
  return pair;
}

/** The `listen` line of the HTTPS address, with the certificate it serves. */
export function logTlsListen(log: Logger, addr: AddressInfo, pair: TlsPair, extra: Record<string, unknown> = {}): void {
  log.info({ evt: EVT.listen, address: addr.address, port: addr.port, tls: true, subject: pair.subject, notAfter: pair.notAfter.toISOString(), ...extra }, 'listening (HTTPS)');
}

/** The line of a reload that re-read the pair. */
export function logTlsReload(log: Logger, pair: TlsPair): void {
  log.info({ evt: EVT.tlsReload, subject: pair.subject, notAfter: pair.notAfter.toISOString() }, 'TLS certificate and key re-read: new HTTPS connections use them');
}
