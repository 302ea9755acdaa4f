import type { Config, ResourceConfig } from '../config/schema.js';
import type { AdmittedClient } from '../http/stream.js';
import type { Handler } from '../http/server.js';
import { EVT, type Logger } from '../log/logger.js';
import type { StatsCollector } from '../metrics/stats.js';
import type { StreamView } from '../stream/contracts.js';
import { loadAssets, StatusPage, type Asset } from './page.js';
import { ClientRegistry, LocalStatusSource, type StatusStreamControl } from './source.js';

export { ClientRegistry } from './source.js';
import { TrustedProxies } from './urls.js';

export type { StatusSource, StatusSnapshot } from './types.js';

export interface StatusApiOptions {
  cfg: Config;
  /** Stream resources in configuration order: control (Stream) and counters (as statistics reads them). */
  streams: readonly { control: StatusStreamControl; view: StreamView }[];
  stats: StatsCollector;
  connections: () => number;
  redact: (url: string) => string;
  /** This process holds the clients (single process); false on a multi-process primary. */
  clientDetails: boolean;
  /** The registry of the configuration this one replaces (a reload keeps streams and their clients). */
  carriedClients?: ClientRegistry;
  log: Logger;
}

/** Status pages of one process: one data source, one page per status resource. */
export class StatusApi {
  /** For StreamEndpointOptions.onClient; undefined where this process has no clients. */
  readonly onClient: ((c: AdmittedClient) => () => void) | undefined;
  /** The viewers known to the page: hand it to the configuration that replaces this one on reload. */
  readonly clients: ClientRegistry | undefined;
  private readonly source: LocalStatusSource;
  private readonly pages: StatusPage[] = [];
  private readonly trusted: TrustedProxies;
  private assets: Map<string, Asset> | undefined;

  constructor(private readonly o: StatusApiOptions) {
    const registry = o.clientDetails ? (o.carriedClients ?? new ClientRegistry()) : undefined;
    this.clients = registry;
    this.onClient = registry?.add;
    this.trusted = new TrustedProxies(o.cfg.trustedproxies);
    const names = new Map(o.cfg.resources.filter((r) => r.type === 'stream').map((r) => [r.serve, r.name]));
    this.source = new LocalStatusSource({
      streams: o.streams.map((s) => ({ ...s, displayName: names.get(s.control.name) })),
      stats: o.stats,
      connections: o.connections,
      maxConnections: o.cfg.maxconnections,
      fullConnections: o.cfg.fullconnections,
      redact: o.redact,
      clients: registry,
    });
    this.source.start();
  }

  /**
   * The handler of one `"api": "status"` resource. `forwarded`: it answers a worker's
   * requests on the primary's internal channel (see statusForward), not clients.
   */
  page(r: ResourceConfig, rlog: Logger, forwarded = false): Handler {
    const actions = r.authentication?.type === 'basic' || r.authentication?.type === 'bearer';
    if (!actions) rlog.warn({ evt: EVT.warning, api: 'status' }, 'status page without authentication: read-only (ending clients and switching streams need an authentication stanza), and anyone who can reach it sees the viewers\' addresses');
    if (!this.o.clientDetails) rlog.info({ evt: EVT.config, api: 'status' }, 'status page in multi-process mode: per-stream figures only, no per-client rows');
    this.assets ??= loadAssets(this.o.log);
    const p = new StatusPage({ source: this.source, servePath: r.serve, actions, trusted: this.trusted, assets: this.assets, log: rlog, forwarded });
    this.pages.push(p);
    return p.handle;
  }

  close(): void {
    this.source.close();
    for (const p of this.pages) p.close();
  }
}
