import cluster from 'node:cluster';
import net from 'node:net';
import { EVT, type Logger } from '../log/logger.js';
import type { LogHandle } from '../log/logger.js';
import { App } from '../app.js';
import { DATA_FD, FrameReader, type PrimaryMessage, type WorkerMessage } from './protocol.js';
import { WorkerRpc } from './rpc.js';
import { ENV_API_SECRET, ENV_API_SOCKET } from './primary.js';

/** How often a worker reports its counters without being asked, ms. */
const REPORT_MS = 250;
/** On shutdown, how long the clients' connections may take to close, ms (the front gives 500). */
const CLOSE_WAIT_MS = 1000;

/**
 * Multi-process mode, worker side: serves the HTTP clients the primary hands over, from
 * hubs fed by the primary's data pipe; asks the primary for admission; forwards API
 * requests to it; answers its heartbeat. Exits, ending its clients, when the primary says
 * so or is gone.
 */
export async function runWorker(logh: LogHandle): Promise<number> {
  const log: Logger = logh.logger.child({ worker: cluster.worker?.id });
  let app: App | undefined;
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
  const rpc = new WorkerRpc(send, () => app?.workerCounters() ?? [], () => shutdown(0), () => logh.reopen());
  const apiSecret = process.env[ENV_API_SECRET] ?? '';
  delete process.env[ENV_API_SECRET];
  const apiSocket = process.env[ENV_API_SOCKET] ?? '';
  // The App is built from the primary's configuration (first 'config' message), never
  // from the file, which may have changed since the primary read it; each later 'config'
  // is a reload. Frames for a slot this worker does not have (yet) are dropped.
  const configure = (m: Extract<PrimaryMessage, { t: 'config' }>) => {
    if (exiting) return;
    const role = { role: 'worker', rpc, apiSocket, apiSecret, slots: m.slots, generation: m.generation } as const;
    if (!app) {
      app = new App(m.cfg, log, role);
      // The front's HTTP server never listens here. Its connection bookkeeping (header and
      // request timeouts, closing idle keep-alive connections) starts on 'listening'.
      app.front.server.emit('listening');
      send({ t: 'configured', generation: m.generation });
      send({ t: 'ready' });
      return;
    }
    try {
      app = app.reload(m.cfg, role).app;
      log.info({ evt: EVT.reload, ok: true, generation: m.generation }, 'configuration reloaded');
    } catch (err) {
      log.error({ evt: EVT.reload, ok: false, err: (err as Error).message }, 'reload failed in a worker: stopping it (the primary starts a new one)');
      shutdown(1);
      return;
    }
    send({ t: 'configured', generation: m.generation });
  };

  const reader = new FrameReader((type, arg, stream, payload) => app?.remoteStreams.get(stream)?.onFrame(type, arg, payload));
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
