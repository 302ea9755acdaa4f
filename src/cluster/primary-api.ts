import http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { FrontResponse, type FrontServer } from '../http/server.js';
import { answerHandlerError } from '../http/answers.js';
import { SECRET_HEADER } from './primary-proxy.js';
import { RestreamerError } from '../errors.js';
import type { Logger } from '../log/logger.js';

/**
 * A handler of the internal server. It may finish later (an API waits for the workers'
 * latest counters first): a rejection is a failure like a throw.
 */
export type InternalHandler = (req: http.IncomingMessage, res: FrontResponse) => void | Promise<void>;

/** One resource of the running configuration: its path (for the log) and its handler. */
export interface InternalRoute {
  serve: string;
  handle: InternalHandler;
}

/**
 * The primary's internal HTTP server for API and static resources (multi-process mode),
 * on a Unix socket in a directory only this user can enter. It answers only requests
 * that carry the run's secret, addressed by configuration generation and resource index (`/r/<gen>/<index>`), with no body;
 * anything else is refused and the connection closed. Workers authenticate and log each
 * client request where it arrives; see primary-proxy.ts for what they forward.
 */
export class PrimaryApiServer {
  private readonly server: FrontServer;
  private readonly secret: Buffer;
  private routes = new Map<number, InternalRoute>();
  private generation = 0;

  constructor(secret: string, private readonly log: Logger) {
    this.secret = Buffer.from(secret);
    this.server = http.createServer({ ServerResponse: FrontResponse, keepAlive: true, requestTimeout: 60_000, headersTimeout: 10_000 }, (req, res) => this.dispatch(req, res));
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  /** The resources of configuration `generation`, by index; requests for another generation get 503. */
  setRoutes(generation: number, routes: Map<number, InternalRoute>): void {
    this.generation = generation;
    this.routes = routes;
  }

  listen(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onErr = (e: Error) => reject(new RestreamerError('INTERNAL_SOCKET', { where: path, why: e.message }, { cause: e }));
      this.server.once('error', onErr);
      this.server.listen({ path }, () => { this.server.off('error', onErr); resolve(); });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private dispatch(req: http.IncomingMessage, res: FrontResponse): void {
    const m = /^\/r\/(\d{1,9})\/(\d{1,6})(?:\?|$)/.exec(req.url ?? '');
    const route = m ? this.routes.get(Number(m[2])) : undefined;
    const bodyless = req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
    if (!this.authentic(req.headers[SECRET_HEADER]) || !route || !bodyless || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.shouldKeepAlive = false;
      res.writeHead(403, { 'Content-Type': 'text/plain', Connection: 'close' }).end('403 forbidden');
      return;
    }
    // A worker still on the configuration before a reload: it retries once it has the new one.
    if (Number(m![1]) !== this.generation) {
      res.writeHead(503, { 'Content-Type': 'text/plain', 'Retry-After': '1' }).end('503 configuration reloading');
      return;
    }
    try {
      const pending = route.handle(req, res);
      if (pending) pending.catch((err: unknown) => { answerHandlerError(this.log, req, res, route.serve, err, 'internal request handler failed'); });
    } catch (err) {
      answerHandlerError(this.log, req, res, route.serve, err, 'internal request handler failed');
    }
  }

  private authentic(v: string | string[] | undefined): boolean {
    if (typeof v !== 'string') return false;
    const b = Buffer.from(v);
    return b.length === this.secret.length && timingSafeEqual(b, this.secret);
  }
}
