import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Config } from './config/schema.js';
import { parseListen } from './config/listen.js';
import type { Logger } from './log/logger.js';
import { EVT } from './log/logger.js';
import { Admission } from './hub/admission.js';
import { HttpFront } from './http/server.js';
import { StreamEndpoint } from './http/stream.js';
import { Stream } from './streams.js';

/**
 * Composition root: builds every component from a validated config and wires them.
 * Nothing else in src/ knows about more than its neighbours.
 */
export class App {
  readonly streams = new Map<string, Stream>();
  readonly admission: Admission;
  readonly front: HttpFront;
  private closed: Promise<void> | undefined;

  constructor(readonly cfg: Config, readonly log: Logger) {
    this.admission = new Admission(cfg.maxconnections);
    this.front = new HttpFront();
    for (const r of cfg.resources) {
      const rlog = log.child({ resource: r.serve });
      switch (r.type) {
        case 'stream': {
          const s = new Stream(r, cfg, log);
          this.streams.set(r.serve, s);
          const preamble = r.preamble ? readFileSync(r.preamble) : undefined;
          const ep = new StreamEndpoint({ stream: s, admission: this.admission, preamble, log: rlog });
          this.front.route(r.serve, (req, res) => ep.handle(req, res));
          break;
        }
        default:
          rlog.warn({ evt: EVT.warning, type: r.type }, `resource type "${r.type}" is not built yet; answering 501`);
          this.front.route(r.serve, (_req, res) => { res.writeHead(501, { 'Content-Type': 'text/plain' }).end('501 not implemented'); });
      }
    }
  }

  /** Start upstreams and listen. Resolves with the bound address. */
  async start(): Promise<AddressInfo> {
    const { host, port } = parseListen(this.cfg.listen);
    const addr = await this.front.listen(host, port);
    for (const s of this.streams.values()) s.start();
    this.log.info({ evt: EVT.listen, address: addr.address, port: addr.port }, 'listening');
    return addr;
  }

  /** Graceful shutdown: stop accepting, end clients, close upstreams. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      const closing = this.front.close();
      for (const s of this.streams.values()) s.close();
      await closing;
    })();
    return this.closed;
  }
}
