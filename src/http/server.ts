import http from 'node:http';
import https from 'node:https';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import { openFileLimit } from '../fdlimit.js';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { readdirSync } from 'node:fs';
import { EVT, type Logger } from '../log/logger.js';
import { FaultEpisode } from '../log/faults.js';
import { ServeMux } from './servemux.js';
import { answerHandlerError, defaultNotFound, writeBadRequest, writeRedirect } from './answers.js';

/** Accept queue length requested from the kernel (capped by net.core.somaxconn). */
const LISTEN_BACKLOG = 4096;

/**
 * The front's response class, given to Node through http.createServer's documented
 * `ServerResponse` option: it tells the code around a handler (the access log) when the
 * headers go out, whether written with writeHead or implied by the first write or end(),
 * instead of that code replacing methods on each response.
 */
export class FrontResponse extends http.ServerResponse {
  private headersOut: ((status: number) => void) | undefined;

  /** Call `fn` once, with the status, when the headers are written. */
  onHeaders(fn: (status: number) => void): void {
    const before = this.headersOut;
    this.headersOut = before ? (status) => { before(status); fn(status); } : fn;
  }

  // Node's implicit headers (first write, end, flushHeaders) come through here too.
  override writeHead(statusCode: number, reason?: string | http.OutgoingHttpHeaders | http.OutgoingHttpHeader[], headers?: http.OutgoingHttpHeaders | http.OutgoingHttpHeader[]): this {
    if (typeof reason === 'string') super.writeHead(statusCode, reason, headers);
    else super.writeHead(statusCode, headers ?? reason);
    const told = this.headersOut;
    this.headersOut = undefined;
    told?.(this.statusCode);
    return this;
  }
}

export type Handler = (req: http.IncomingMessage, res: FrontResponse) => void;

/** An http.Server whose responses are FrontResponses. */
export type FrontServer = http.Server<typeof http.IncomingMessage, typeof FrontResponse>;
type TlsFrontServer = https.Server<typeof http.IncomingMessage, typeof FrontResponse>;

/**
 * Limits of the HTTP front. The defaults suit a streaming server: requests are small GETs
 * that arrive at once, responses may last hours (no limit applies to a response).
 */
export interface HttpFrontLimits {
  /** A request's headers must be complete this long after its first byte (or after the connection opened). */
  headersTimeoutMs: number;
  /** A whole request (headers and body) must have arrived within this; never cuts a response. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /**
   * At most this many connections without a request in progress (just opened and not yet
   * sent a whole request, or idle between keep-alive requests). Beyond it the oldest of
   * them is closed. Stream viewers and requests being answered do not count.
   */
  maxIdleSockets: number;
  /** HTTPS: a TLS handshake must be done within this (Node's default, 120 s, lets slow handshakes hold sockets). */
  handshakeTimeoutMs: number;
}

const DEFAULT_LIMITS: HttpFrontLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxIdleSockets: 4096,
  handshakeTimeoutMs: 10_000,
};

export interface HttpFrontOptions extends Partial<HttpFrontLimits> {
  /** Where fd exhaustion, socket-cap episodes and server errors are logged. */
  log?: Logger;
  /** Wraps the responses the front makes itself (redirects, 400), e.g. with the access log. */
  wrap?: (h: Handler) => Handler;
}

/** How often Node checks the header and request deadlines (its default, 30 s, would let them slip by that much). */
const DEADLINE_CHECK_MS = 1_000;
/**
 * Descriptors kept free of client connections for everything else (upstreams, fork
 * pipes, static fetches, webhooks, log files): this many plus 5 % of the limit.
 */
const FD_RESERVE = 64;
/** A fault episode ends after this long without the fault; then it is summarised. */
const EPISODE_QUIET_MS = 10_000;

/**
 * The HTTP front: Go ServeMux routing (see servemux.ts), header/request/keep-alive
 * timeouts, a cap on idle connections, and malformed requests answered without ever
 * writing into a response in progress. Keeps track of sockets so close() can end
 * long-running stream responses.
 */
export class HttpFront {
  readonly server: FrontServer;
  /** The HTTPS server, once serveTls() made it: the same routes, connection tracking and limits. */
  tlsServer: TlsFrontServer | undefined;
  /** TCP connections of the HTTPS listener whose handshake is not done (tracked from 'secureConnection' on). */
  private readonly handshaking = new Set<Socket>();
  readonly limits: HttpFrontLimits;
  private mux = new ServeMux<Handler>();
  /** Every open socket, with the number of responses dispatched on it and not yet closed. */
  private readonly active = new Map<Duplex, number>();
  /** Sockets with no response in progress, oldest first (insertion order of a Set). */
  private readonly idle = new Set<Socket>();
  private readonly locations = new WeakMap<http.IncomingMessage, string>();
  private readonly redirect: Handler;
  private readonly badRequest: Handler;
  private readonly notFound: Handler;
  private readonly log: Logger | undefined;
  private readonly fdEpisode: FaultEpisode;
  private readonly capEpisode: FaultEpisode;
  private listening = false;
  private fdLimit: number | undefined;
  /** The cap on connections below the open-file limit, per listener (0: none). */
  private connectionCap = 0;
  private closing: Promise<void> | undefined;

  constructor(notFound: Handler = defaultNotFound, o: HttpFrontOptions = {}) {
    const { log, wrap = (h: Handler) => h, ...limits } = o;
    this.limits = { ...DEFAULT_LIMITS, ...definedOnly(limits) };
    this.log = log;
    this.notFound = notFound;
    this.redirect = wrap((req, res) => writeRedirect(req, res, this.locations.get(req) ?? '/'));
    this.badRequest = wrap(writeBadRequest);
    this.fdEpisode = new FaultEpisode(EPISODE_QUIET_MS, (n, first) => this.logFdEpisode(n, first));
    this.capEpisode = new FaultEpisode(EPISODE_QUIET_MS, (n, first) => this.logCapEpisode(n, first));
    this.server = http.createServer(this.serverOptions(), (req, res) => this.dispatch(req, res));
    this.server.on('connection', (s: Socket) => this.onConnection(s));
    this.watch(this.server);
  }

  private serverOptions(): http.ServerOptions<typeof http.IncomingMessage, typeof FrontResponse> {
    const l = this.limits;
    return {
      ServerResponse: FrontResponse,
      noDelay: true,
      keepAlive: true,
      headersTimeout: l.headersTimeoutMs,
      requestTimeout: l.requestTimeoutMs,
      keepAliveTimeout: l.keepAliveTimeoutMs,
      connectionsCheckingInterval: DEADLINE_CHECK_MS,
    };
  }

  /** The events both listeners share: refused requests, accept failures, connections dropped at the cap. */
  private watch(server: FrontServer | TlsFrontServer): void {
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.onClientError(err, socket));
    // After listen, an 'error' is an accept failure (EMFILE/ENFILE when out of file
    // descriptors): without a listener Node would throw it and end the process.
    server.on('error', (err: NodeJS.ErrnoException) => this.onServerError(err));
    // libuv hides EMFILE on accept (it accepts and closes the connection itself), so the
    // front stops short of the limit: connections beyond maxConnections are dropped by
    // Node with this event, and the process keeps descriptors for its upstreams.
    server.on('drop', () => this.fdEpisode.note('EMFILE'));
  }

  /** Serve `pattern` (a Go ServeMux pattern: "/exact", "/subtree/", "host/path"). */
  route(pattern: string, h: Handler): void {
    this.mux.handle(pattern, h);
  }

  /**
   * Replace every route at once (configuration reload): each request is dispatched by
   * either the old table or the new one, never a mix.
   */
  setRoutes(routes: Iterable<readonly [string, Handler]>): void {
    const mux = new ServeMux<Handler>();
    for (const [pattern, h] of routes) mux.handle(pattern, h);
    this.mux = mux;
  }

  listen(host: string | undefined, port: number): Promise<AddressInfo> {
    return this.listenOn(this.server, { host, port });
  }

  /**
   * Serve the same routes over HTTPS too (once), on connections it accepts (listenTls) or
   * is given (a worker's). A connection counts from its finished handshake on; one that
   * has not finished it within handshakeTimeoutMs is closed.
   */
  serveTls(secure: SecureContextOptions): TlsFrontServer {
    if (this.tlsServer) throw new Error('serveTls() called twice');
    const server: TlsFrontServer = https.createServer({ ...this.serverOptions(), ...secure, handshakeTimeout: this.limits.handshakeTimeoutMs }, (req, res) => this.dispatch(req, res));
    this.tlsServer = server;
    server.on('connection', (s: Socket) => {
      this.handshaking.add(s);
      s.once('close', () => this.handshaking.delete(s));
    });
    server.on('secureConnection', (s: TLSSocket) => this.onConnection(s));
    // A failed or timed-out handshake: the connection is closed, nothing else to do.
    server.on('tlsClientError', (_err: Error, s: TLSSocket) => s.destroy());
    this.watch(server);
    return server;
  }

  /** Accept HTTPS connections on an address of their own. */
  listenTls(host: string | undefined, port: number, secure: SecureContextOptions): Promise<AddressInfo> {
    return this.listenOn(this.serveTls(secure), { host, port });
  }

  /** New HTTPS connections use `secure` from now on; those open keep theirs. */
  setSecureContext(secure: SecureContextOptions): void {
    this.tlsServer?.setSecureContext(secure);
  }

  /** Connections open now, and how many of them have no request in progress. */
  get socketCounts(): { open: number; idle: number } {
    return { open: this.active.size, idle: this.idle.size };
  }

  private listenOn(server: FrontServer | TlsFrontServer, opts: { host?: string; port?: number }): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onErr = (e: Error) => reject(e);
      server.once('error', onErr);
      // Node's default accept backlog (511) overflows when a thousand viewers connect at
      // once: the kernel drops their SYNs and clients retry only after 1 s, 3 s, ...
      // The kernel caps this at net.core.somaxconn.
      server.listen({ ...opts, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', onErr);
        this.listening = true;
        this.capConnectionsToFdLimit();
        if (this.connectionCap && !server.maxConnections) server.maxConnections = this.connectionCap;
        resolve(server.address() as AddressInfo);
      });
    });
  }

  /** Stop accepting; give responses `graceMs` to finish, then destroy what is left. Idempotent. */
  close(graceMs = 500): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.fdEpisode.close();
      this.capEpisode.close();
      const tls = this.tlsServer;
      let open = tls ? 2 : 1;
      const closed = () => { if (--open === 0) resolve(); };
      this.server.close(closed);
      this.server.closeIdleConnections();
      tls?.close(closed);
      tls?.closeIdleConnections();
      for (const s of this.handshaking) s.destroy();
      const t = setTimeout(() => { for (const s of this.active.keys()) s.destroy(); }, graceMs);
      t.unref();
    });
    return this.closing;
  }

  /**
   * Linux: cap client connections below the open-file limit (RLIMIT_NOFILE), counting
   * the descriptors already open, so running out is seen, logged and survived.
   */
  private capConnectionsToFdLimit(): void {
    const limit = openFileLimit()?.soft;
    if (limit === undefined || !Number.isFinite(limit) || this.connectionCap || this.server.maxConnections) return;
    let inUse: number;
    try {
      inUse = readdirSync('/proc/self/fd').length;
    } catch {
      return;
    }
    this.fdLimit = limit;
    // Each listener gets the whole cap: with HTTPS beside HTTP, their sum may pass the
    // limit, and the reserve, then the fd-exhaustion episode, is what remains.
    this.connectionCap = Math.max(1, limit - inUse - FD_RESERVE - Math.ceil(limit * 0.05));
  }

  private onConnection(s: Socket): void {
    this.active.set(s, 0);
    this.idle.add(s);
    s.once('close', () => {
      this.active.delete(s);
      this.idle.delete(s);
    });
    this.enforceIdleCap(s);
  }

  /** Over the cap, close the oldest connections that have no request in progress. */
  private enforceIdleCap(keep: Socket): void {
    if (this.idle.size <= this.limits.maxIdleSockets) return;
    for (const s of this.idle) {
      if (this.idle.size <= this.limits.maxIdleSockets) break;
      if (s === keep) continue;
      this.idle.delete(s);
      s.destroy();
      this.capEpisode.note();
    }
  }

  /**
   * A request the parser refused (garbage, headers too large, header/request timeout).
   * A response already in progress on this connection (a stream, say) must never get
   * another response written into its body: then the connection is only closed.
   */
  private onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    const busy = (this.active.get(socket) ?? 0) > 0;
    if (busy || !socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout'
      : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
        : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    // A peer that never closes its side does not keep the descriptor.
    setTimeout(() => socket.destroy(), 2_000).unref();
  }

  private onServerError(err: NodeJS.ErrnoException): void {
    if (!this.listening) return; // a listen failure: listenOn() rejects with it
    if (err.code === 'EMFILE' || err.code === 'ENFILE') {
      this.fdEpisode.note(err.code);
      return;
    }
    this.log?.error({ evt: EVT.httpError, code: err.code, err: err.message, syscall: err.syscall }, 'HTTP server error');
  }

  private logFdEpisode(n: number, first: string | undefined): void {
    if (!this.log) return;
    if (first !== undefined) {
      this.log.error({
        evt: EVT.fdExhausted, code: first, limit: this.fdLimit ?? openFileLimit()?.soft, maxConnections: this.server.maxConnections || undefined, open: this.active.size,
      }, 'out of file descriptors: new connections are being refused. Raise the open-file limit: LimitNOFILE= in the systemd unit, or ulimit -n before starting');
    } else {
      this.log.warn({ evt: EVT.fdExhausted, refused: n, open: this.active.size }, `file descriptors available again; ${n} connection attempts failed meanwhile`);
    }
  }

  private logCapEpisode(n: number, first: string | undefined): void {
    if (!this.log) return;
    if (first !== undefined) {
      this.log.warn({ evt: EVT.httpSocketCap, limit: this.limits.maxIdleSockets, open: this.active.size },
        'too many connections without a request: closing the oldest idle ones (slow or idle clients, or an attack)');
    } else {
      this.log.warn({ evt: EVT.httpSocketCap, closed: n, limit: this.limits.maxIdleSockets }, `idle-connection cap episode over; ${n} connections closed`);
    }
  }

  private dispatch(req: http.IncomingMessage, res: FrontResponse): void {
    const socket = req.socket;
    // A response is in progress on this socket from now until it closes (pipelined
    // requests count each): clientError must not write into it.
    this.active.set(socket, (this.active.get(socket) ?? 0) + 1);
    this.idle.delete(socket);
    res.once('close', () => {
      const open = this.active.get(socket);
      if (open === undefined) return; // the socket has closed
      const n = open - 1;
      this.active.set(socket, n);
      if (n === 0 && !socket.destroyed) {
        this.idle.add(socket);
        this.enforceIdleCap(socket);
      }
    });

    const r = this.mux.resolve(req.url ?? '/', req.headers.host);
    let h: Handler;
    switch (r.kind) {
      case 'handler': h = r.handler; break;
      case 'redirect': this.locations.set(req, r.location); h = this.redirect; break;
      case 'notFound': h = this.notFound; break;
      case 'badRequest': h = this.badRequest; break;
    }
    try {
      h(req, res);
    } catch (err) {
      answerHandlerError(this.log, req, res, r.kind === 'handler' ? r.pattern : r.kind, err, 'request handler failed');
    }
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
