import cluster from 'node:cluster';
import net from 'node:net';
import type { Logger } from '../log/logger.js';
import { EVT } from '../log/logger.js';
import type { LogHandle } from '../log/logger.js';
import type { Config } from '../config/schema.js';
import { parseListen } from '../config/listen.js';
import { App } from '../app.js';
import { DATA_FD, FrameReader, type PrimaryMessage, type WorkerMessage } from './protocol.js';
import { WorkerRpc } from './rpc.js';
import { ENV_API_SECRET, ENV_API_SOCKET } from './primary.js';

/** How often a worker reports its counters without being asked, ms. */
const REPORT_MS = 250;

/**
 * Multi-process mode, worker side: serves HTTP clients from hubs fed by the primary's
 * data pipe; asks the primary for admission; forwards API requests to it. Exits when
 * the primary says so or disappears.
 */
export async function runWorker(cfg: Config, logh: LogHandle): Promise<number> {
  const log: Logger = logh.logger.child({ worker: cluster.worker?.id });
  const send = (m: WorkerMessage) => { if (process.connected) process.send!(m); };
  let app: App | undefined;
  let exiting: Promise<number> | undefined;
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((r) => { resolveExit = r; });
  const shutdown = (code = 0) => {
    exiting ??= (async () => {
      clearInterval(timer);
      rpc.close();
      await app?.close();
      data.destroy();
      await logh.close();
      resolveExit(code);
      return code;
    })();
  };
  const rpc = new WorkerRpc(send, () => app?.workerCounters() ?? [], () => shutdown(0), () => logh.reopen());
  const apiSecret = process.env[ENV_API_SECRET] ?? '';
  delete process.env[ENV_API_SECRET];
  app = new App(cfg, log, { role: 'worker', rpc, apiSocket: process.env[ENV_API_SOCKET] ?? '', apiSecret });

  const reader = new FrameReader((type, arg, stream, payload) => app?.remoteStreams[stream]?.onFrame(type, arg, payload));
  const data = new net.Socket({ fd: DATA_FD, readable: true, writable: false });
  data.on('data', (chunk: Buffer) => reader.push(chunk));
  data.on('error', () => shutdown(1));
  data.on('end', () => shutdown(0));

  process.on('message', (m: PrimaryMessage) => rpc.onMessage(m));
  process.on('disconnect', () => shutdown(0));
  // Ctrl-C reaches the whole process group: the primary coordinates the shutdown.
  process.on('SIGINT', () => {});
  // A hangup reaches the whole process group too; a log-rotation signal sent to a worker
  // reopens its own log.
  process.on('SIGHUP', () => logh.reopen());
  process.on('SIGUSR1', () => logh.reopen());
  // With a drain time the primary decides when clients end (systemd signals the whole
  // group); without one, a SIGTERM stops this worker at once, as before.
  process.on('SIGTERM', () => { if (cfg.drain <= 0) shutdown(0); });
  const timer = setInterval(() => rpc.report(), REPORT_MS);
  timer.unref();

  try {
    const { host, port } = parseListen(cfg.listen);
    const addr = await app.front.listen(host, port);
    send({ t: 'listening', address: addr.address, port: addr.port, family: addr.family });
  } catch (err) {
    send({ t: 'listen-error', message: (err as Error).message });
    log.error({ evt: EVT.warning, err: (err as Error).message }, 'worker cannot listen');
    shutdown(1);
  }
  return exited;
}
