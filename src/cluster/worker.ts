import cluster from 'node:cluster';
import net from 'node:net';
import { EVT, type Logger } from '../log/logger.js';
import type { LogHandle } from '../log/logger.js';
import type { Config } from '../config/schema.js';
import type { HttpFront } from '../http/server.js';
import { DATA_FD, ENV_API_SECRET, ENV_API_SOCKET, FrameReader, type PrimaryMessage, type TlsWire, type WorkerMessage, type WorkerStreamCounters } from './protocol.js';
import { WorkerRpc } from './rpc.js';
import { SlotRouter, type SlotStream } from './slots.js';

/** How often a worker reports its counters without being asked, ms. */
const REPORT_MS = 250;
/** On shutdown, how long the clients' connections may take to close, ms (the front gives 500). */
const CLOSE_WAIT_MS = 1000;

/** A configuration as the primary sends it to a worker. */
export interface WorkerConfig {
  cfg: Config;
  /** The slot of each stream resource, in order. */
  slots: readonly number[];
  generation: number;
  /** With `tls`: the pair and ticket keys its HTTPS server uses (the primary read them). */
  tls?: TlsWire;
}

/** What a worker's composition root (src/roles/worker.ts) is given to reach the primary. */
export interface WorkerLink {
  rpc: WorkerRpc;
  /** The primary's internal API socket and the run's secret for it. */
  apiSocket: string;
  apiSecret: string;
}

/** The configuration a worker runs (src/roles/worker.ts builds it): what this process loop needs of it. */
export interface WorkerHost {
  readonly cfg: Config;
  /** Its HTTP front; the connections the primary hands over go to its server (HTTPS ones to its tlsServer). */
  readonly front: HttpFront;
  /** Its client-side streams, by slot: the data pipe's frames go straight to them. */
  readonly streams: ReadonlyMap<number, SlotStream>;
  /** Per-stream counters for the primary, by slot. */
  counters(): WorkerStreamCounters[];
  /** The next configuration, taking over what it keeps; this one is retired. */
  reload(next: WorkerConfig): WorkerHost;
  close(): Promise<void>;
}

type Build = (link: WorkerLink, m: WorkerConfig, log: Logger) => WorkerHost;

/**
 * Multi-process mode, worker side: serves the HTTP clients the primary hands over, from
 * hubs fed by the primary's data pipe; asks the primary for admission; forwards API
 * requests to it; answers its heartbeat. Exits, ending its clients, when the primary says
 * so or is gone. Resolves with the exit code.
 */
export function runWorker(logh: LogHandle, build: Build): Promise<number> {
  return new WorkerProcess(logh, build).exited;
}

class WorkerProcess {
  readonly exited: Promise<number>;
  private resolveExit!: (code: number) => void;
  private readonly log: Logger;
  private readonly rpc: WorkerRpc;
  private readonly link: WorkerLink;
  /** The data pipe's frames, by slot, to the streams of the configuration that runs. */
  private readonly slots = new SlotRouter();
  private readonly data: net.Socket;
  private readonly timer: NodeJS.Timeout;
  private app: WorkerHost | undefined;
  private conns: HandedConnections | undefined;
  private tlsConns: HandedConnections | undefined;
  private exiting: Promise<number> | undefined;

  constructor(private readonly logh: LogHandle, private readonly build: Build) {
    this.log = logh.logger.child({ worker: cluster.worker?.id });
    this.exited = new Promise<number>((r) => { this.resolveExit = r; });
    process.on('error', () => { this.shutdown(0); });
    cluster.worker?.on('error', () => { this.shutdown(0); });
    this.rpc = new WorkerRpc((m) => { this.send(m); }, () => this.app?.counters() ?? [], () => { this.shutdown(0); }, () => { logh.reopen(); });
    this.link = { rpc: this.rpc, ...takeApiEnv() };
    const reader = new FrameReader((type, arg, slot, payload) => { this.slots.onFrame(type, arg, slot, payload); });
    this.data = new net.Socket({ fd: DATA_FD, readable: true, writable: false });
    this.data.on('data', (chunk: Buffer) => { reader.push(chunk); });
    this.data.on('error', () => { this.shutdown(1); });
    this.data.on('end', () => { this.shutdown(0); });
    process.on('message', (m: PrimaryMessage, handle: unknown) => {
      if (m.t === 'conn') this.onConn(m.id, handle instanceof net.Socket ? handle : undefined, m.tls === true);
      else if (m.t === 'config') this.configure(m);
      else this.rpc.onMessage(m);
    });
    process.on('disconnect', () => { this.shutdown(0); });
    this.onSignals();
    this.timer = setInterval(() => { this.rpc.report(); }, REPORT_MS);
    this.timer.unref();
    this.send({ t: 'hello' });
  }

  private onSignals(): void {
    // Ctrl-C reaches the whole process group: the primary coordinates the shutdown.
    process.on('SIGINT', () => {});
    // A hangup reaches the whole process group too; a log-rotation signal sent to a worker
    // reopens its own log.
    process.on('SIGHUP', () => { this.logh.reopen(); });
    process.on('SIGUSR1', () => { this.logh.reopen(); });
    // With a drain time the primary decides when clients end (systemd signals the whole
    // group); without one, a SIGTERM stops this worker at once, as before.
    process.on('SIGTERM', () => { if ((this.app?.cfg.drain ?? 0) <= 0) this.shutdown(0); });
  }

  private shutdown(code: number): void {
    this.exiting ??= (async () => {
      clearInterval(this.timer);
      this.rpc.close();
      await this.app?.close();
      await Promise.all([this.conns?.closed(CLOSE_WAIT_MS), this.tlsConns?.closed(CLOSE_WAIT_MS)]);
      this.data.destroy();
      await this.logh.close();
      this.resolveExit(code);
      return code;
    })();
  }

  /** A send fails when the primary is gone (EPIPE, channel closed): that is the end of this worker, never an unhandled error. */
  private send(m: WorkerMessage): void {
    if (!process.connected) return;
    try { process.send!(m, undefined, undefined, (err: Error | null) => { if (err) this.shutdown(0); }); } catch { this.shutdown(0); }
  }

  /**
   * The configuration is built from the primary's configuration (first 'config' message),
   * never from the file, which may have changed since the primary read it; each later
   * 'config' is a reload.
   */
  private configure(m: Extract<PrimaryMessage, { t: 'config' }>): void {
    if (this.exiting) return;
    const next: WorkerConfig = { cfg: m.cfg, slots: m.slots, generation: m.generation, tls: m.tls };
    const first = !this.app;
    if (!this.app) {
      this.app = this.build(this.link, next, this.log);
      this.conns = new HandedConnections(this.app.front.server);
      const tlsServer = this.app.front.tlsServer;
      if (tlsServer) this.tlsConns = new HandedConnections(tlsServer);
    } else {
      try {
        this.app = this.app.reload(next);
        this.log.info({ evt: EVT.reload, ok: true, generation: m.generation }, 'configuration reloaded');
      } catch (err) {
        this.log.error({ evt: EVT.reload, ok: false, err: (err as Error).message }, 'reload failed in a worker: stopping it (the primary starts a new one)');
        this.shutdown(1);
        return;
      }
    }
    this.slots.set(this.app.streams);
    this.send({ t: 'configured', generation: m.generation });
    if (first) this.send({ t: 'ready' });
  }

  private onConn(id: number, socket: net.Socket | undefined, tls: boolean): void {
    const conns = tls ? this.tlsConns : this.conns;
    // Taken or refused at once: the primary keeps its copy until it hears which.
    if (!socket || this.exiting || !conns) {
      this.send({ t: 'conn-ack', id, ok: false });
      socket?.destroy(); // our descriptor only; the primary hands the connection on
      return;
    }
    this.send({ t: 'conn-ack', id, ok: true });
    conns.adopt(socket);
  }
}

/** The internal API socket and its secret, from the environment (the secret leaves it at once). */
function takeApiEnv(): { apiSocket: string; apiSecret: string } {
  const apiSecret = process.env[ENV_API_SECRET] ?? '';
  // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- delete is how a variable leaves process.env (and so every child's environment)
  delete process.env[ENV_API_SECRET];
  return { apiSocket: process.env[ENV_API_SOCKET] ?? '', apiSecret };
}

/**
 * The connections the primary hands over, given to an HTTP server that never listens
 * itself (the primary does): `emit('connection')` is the documented way to give an
 * http.Server a connection it did not accept.
 */
export class HandedConnections {
  private readonly sockets = new Set<net.Socket>();

  /** `server`: an http.Server, or an https.Server, which does the TLS handshake on what it is given. */
  constructor(private readonly server: net.Server) {
    // Node keeps the list of an http.Server's connections, and enforces headersTimeout,
    // requestTimeout and closes idle keep-alive connections on close() from it, only once
    // the server emitted 'listening' (private: lib/_http_server.js, setupConnectionsTracking).
    // This server never listens, so it is told it does. No public API starts that tracking;
    // re-implementing the checks by hand would be worse. test/unit/cluster/worker.test.ts
    // pins it: a handed-over connection that sends its headers too slowly gets 408 within
    // headersTimeout, and that test fails should a Node release change this.
    server.emit('listening');
  }

  /** A connection the primary handed over (the worker has acknowledged it). */
  adopt(socket: net.Socket): void {
    // As the HTTP server's own accept would have made it (http.Server allows half-open).
    socket.allowHalfOpen = true;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    this.server.emit('connection', socket);
    socket.resume();
  }

  /** Resolves when every connection has closed, or after `ms`. */
  closed(ms: number): Promise<void> {
    if (this.sockets.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      t.unref();
      let left = this.sockets.size;
      for (const s of this.sockets) s.once('close', () => { if (--left === 0) { clearTimeout(t); resolve(); } });
    });
  }
}
