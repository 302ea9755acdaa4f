import cluster from 'node:cluster';
import net from 'node:net';
import { EVT, type Logger } from '../log/logger.js';
import type { LogHandle } from '../log/logger.js';
import type { Config } from '../config/schema.js';
import type { HttpFront } from '../http/server.js';
import { DATA_FD, FrameReader, type Frame, type PrimaryMessage, type WorkerMessage, type WorkerStreamCounters } from './protocol.js';
import { WorkerRpc } from './rpc.js';
import { ENV_API_SECRET, ENV_API_SOCKET } from './primary.js';

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
  /** Its HTTP front; the connections the primary hands over go to its server. */
  readonly front: HttpFront;
  /** A frame of the data pipe for the stream in `slot` (dropped if this configuration has no such slot). */
  onFrame(slot: number, type: Frame, arg: number, payload: Buffer): void;
  /** Per-stream counters for the primary, by slot. */
  counters(): WorkerStreamCounters[];
  /** The next configuration, taking over what it keeps; this one is retired. */
  reload(next: WorkerConfig): WorkerHost;
  close(): Promise<void>;
}

/**
 * Multi-process mode, worker side: serves the HTTP clients the primary hands over, from
 * hubs fed by the primary's data pipe; asks the primary for admission; forwards API
 * requests to it; answers its heartbeat. Exits, ending its clients, when the primary says
 * so or is gone.
 */
export async function runWorker(logh: LogHandle, build: (link: WorkerLink, m: WorkerConfig, log: Logger) => WorkerHost): Promise<number> {
  const log: Logger = logh.logger.child({ worker: cluster.worker?.id });
  let app: WorkerHost | undefined;
  let exiting: Promise<number> | undefined;
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((r) => { resolveExit = r; });
  // Connections handed over by the primary: the front never accepted them itself.
  const sockets = new Set<net.Socket>();
  const shutdown = (code = 0) => {
    exiting ??= (async () => {
      clearInterval(timer);
      rpc.close();
      await app?.close();
      await closed(sockets, CLOSE_WAIT_MS);
      data.destroy();
      await logh.close();
      resolveExit(code);
      return code;
    })();
  };
  // A send fails when the primary is gone (EPIPE, channel closed): that is the end of
  // this worker, never an unhandled error.
  const send = (m: WorkerMessage) => {
    if (!process.connected) return;
    try { process.send!(m, undefined, undefined, (err: Error | null) => { if (err) shutdown(0); }); } catch { shutdown(0); }
  };
  process.on('error', () => shutdown(0));
  cluster.worker?.on('error', () => shutdown(0));
  const rpc = new WorkerRpc(send, () => app?.counters() ?? [], () => shutdown(0), () => logh.reopen());
  const apiSecret = process.env[ENV_API_SECRET] ?? '';
  // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- delete is how a variable leaves process.env (and so every child's environment)
  delete process.env[ENV_API_SECRET];
  const apiSocket = process.env[ENV_API_SOCKET] ?? '';
  const link: WorkerLink = { rpc, apiSocket, apiSecret };
  // The configuration is built from the primary's configuration (first 'config' message), never
  // from the file, which may have changed since the primary read it; each later 'config'
  // is a reload. Frames for a slot this worker does not have (yet) are dropped.
  const configure = (m: Extract<PrimaryMessage, { t: 'config' }>) => {
    if (exiting) return;
    const next: WorkerConfig = { cfg: m.cfg, slots: m.slots, generation: m.generation };
    if (!app) {
      app = build(link, next, log);
      // The front's HTTP server never listens here. Its connection bookkeeping (header and
      // request timeouts, closing idle keep-alive connections) starts on 'listening'.
      app.front.server.emit('listening');
      send({ t: 'configured', generation: m.generation });
      send({ t: 'ready' });
      return;
    }
    try {
      app = app.reload(next);
      log.info({ evt: EVT.reload, ok: true, generation: m.generation }, 'configuration reloaded');
    } catch (err) {
      log.error({ evt: EVT.reload, ok: false, err: (err as Error).message }, 'reload failed in a worker: stopping it (the primary starts a new one)');
      shutdown(1);
      return;
    }
    send({ t: 'configured', generation: m.generation });
  };

  const reader = new FrameReader((type, arg, stream, payload) => app?.onFrame(stream, type, arg, payload));
  const data = new net.Socket({ fd: DATA_FD, readable: true, writable: false });
  data.on('data', (chunk: Buffer) => reader.push(chunk));
  data.on('error', () => shutdown(1));
  data.on('end', () => shutdown(0));

  const onConn = (id: number, socket: net.Socket | undefined) => {
    // Taken or refused at once: the primary keeps its copy until it hears which.
    if (!socket || exiting || !app) {
      send({ t: 'conn-ack', id, ok: false });
      socket?.destroy(); // our descriptor only; the primary hands the connection on
      return;
    }
    send({ t: 'conn-ack', id, ok: true });
    // As the HTTP server's own accept would have made it (http.Server allows half-open).
    socket.allowHalfOpen = true;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    app.front.server.emit('connection', socket);
    socket.resume();
  };
  process.on('message', (m: PrimaryMessage, handle: unknown) => {
    if (m.t === 'conn') onConn(m.id, handle instanceof net.Socket ? handle : undefined);
    else if (m.t === 'config') configure(m);
    else rpc.onMessage(m);
  });
  process.on('disconnect', () => shutdown(0));
  // Ctrl-C reaches the whole process group: the primary coordinates the shutdown.
  process.on('SIGINT', () => {});
  // A hangup reaches the whole process group too; a log-rotation signal sent to a worker
  // reopens its own log.
  process.on('SIGHUP', () => logh.reopen());
  process.on('SIGUSR1', () => logh.reopen());
  // With a drain time the primary decides when clients end (systemd signals the whole
  // group); without one, a SIGTERM stops this worker at once, as before.
  process.on('SIGTERM', () => { if ((app?.cfg.drain ?? 0) <= 0) shutdown(0); });
  const timer = setInterval(() => rpc.report(), REPORT_MS);
  timer.unref();
  send({ t: 'hello' });
  return exited;
}

/** Resolves when every socket in `set` has closed, or after `ms`. */
function closed(set: Set<net.Socket>, ms: number): Promise<void> {
  if (set.size === 0) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref();
    let left = set.size;
    for (const s of set) s.once('close', () => { if (--left === 0) { clearTimeout(t); resolve(); } });
  });
}
