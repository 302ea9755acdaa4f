import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

/** Accept queue length requested from the kernel (capped by net.core.somaxconn). */
const LISTEN_BACKLOG = 4096;

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/**
 * The HTTP front: exact-path routing (query strings ignored, as the original), nothing
 * else. Keeps track of sockets so close() can end long-running stream responses.
 */
export class HttpFront {
  readonly server: http.Server;
  private readonly routes = new Map<string, Handler>();
  private readonly sockets = new Set<Socket>();
  private closing: Promise<void> | undefined;

  constructor(private readonly notFound: Handler = defaultNotFound) {
    this.server = http.createServer({ noDelay: true, keepAlive: true }, (req, res) => this.dispatch(req, res));
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    // A client that sends garbage gets 400 and is closed; never an exception.
    this.server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
    });
  }

  route(path: string, h: Handler): void {
    this.routes.set(path, h);
  }

  listen(host: string | undefined, port: number): Promise<AddressInfo> {
    return this.listenOn({ host, port });
  }

  /** Listen on a Unix socket (the primary's internal API socket in multi-process mode). */
  listenPath(path: string): Promise<void> {
    return this.listenOn({ path }).then(() => undefined);
  }

  private listenOn(opts: { host?: string; port?: number; path?: string }): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onErr = (e: Error) => reject(e);
      this.server.once('error', onErr);
      // Node's default accept backlog (511) overflows when a thousand viewers connect at
      // once: the kernel drops their SYNs and clients retry only after 1 s, 3 s, ...
      // The kernel caps this at net.core.somaxconn.
      this.server.listen({ ...opts, backlog: LISTEN_BACKLOG }, () => {
        this.server.off('error', onErr);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Stop accepting; give responses `graceMs` to finish, then destroy what is left. Idempotent. */
  close(graceMs = 500): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      const t = setTimeout(() => { for (const s of this.sockets) s.destroy(); }, graceMs);
      t.unref();
    });
    return this.closing;
  }

  private dispatch(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const h = this.routes.get(path) ?? this.notFound;
    try {
      h(req, res);
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('500 internal server error');
      req.socket.emit('restreamer-error', err);
    }
  }
}

export function defaultNotFound(_req: http.IncomingMessage, res: http.ServerResponse): void {
  // Go's ServeMux answer, for compatibility with monitoring that matched on it.
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' }).end('404 page not found\n');
}
