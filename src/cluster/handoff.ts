import net, { type AddressInfo } from 'node:net';
import { systemClock, unrefTimer, type Clock } from '../hub/clock.js';

/**
 * Multi-process mode: the primary accepts every client connection itself and hands it to
 * a worker over IPC, instead of Node's cluster round robin. Node's RoundRobinHandle keeps
 * a connection handed to a worker that never acknowledges it (a worker that died or
 * stopped a moment before): that client is never answered nor closed. Here the primary
 * keeps its copy of the socket until the worker acknowledges it, so a connection whose
 * worker dies goes to another worker, and one whose worker cannot take it is closed:
 * never a hang.
 */

/** Accept queue length requested from the kernel (as the single-process front). */
const LISTEN_BACKLOG = 4096;
/** A connection waiting for a worker (none ready) longer than this is closed, ms. */
const WAIT_MS = 5000;
/** At most this many connections wait for a worker; more are closed at once. */
const MAX_WAITING = LISTEN_BACKLOG;
/** A worker that has not acknowledged a connection within this time does not have it, ms. */
export const ACK_MS = 3000;
/** How long a dropped connection's shutdown may take before its descriptor is closed anyway, ms. */
const DROP_MS = 1000;
/** A connection is handed over at most this many times (its workers died meanwhile). */
const MAX_ATTEMPTS = 3;

/** A worker as the hand-off sees it. */
export interface HandoffTarget {
  id: number;
  /** Connections handed to it and not yet acknowledged. */
  pending: number;
  /** Ready for connections and not known to be dead or unresponsive. */
  routable(): boolean;
  /** Heard from recently: preferred over a worker that has been silent for a while. */
  fresh(now: number): boolean;
  /** Send `socket` with `{ t: 'conn', id, tls }`; `done(err)` when the send failed (not delivered). */
  send(id: number, socket: net.Socket, done: (err: Error | null) => void, tls: boolean): void;
}

/** A connection on its way to a worker; `tls`: accepted on the HTTPS address (the worker does the handshake). */
interface Waiting { socket: net.Socket; since: number; attempts: number; tls: boolean }
interface Handed extends Waiting { id: number; target: HandoffTarget }

export class Handoff {
  readonly server: net.Server;
  /** The HTTPS address's listener: its connections go to the workers as they are, raw TCP. */
  readonly tlsServer: net.Server;
  private readonly handed = new Map<number, Handed>();
  private readonly waiting: Waiting[] = [];
  private seq = 0;
  private rr = 0;
  private closed = false;
  /** Connections closed because no worker took them (summarised by the caller). */
  dropped = 0;
  /** Failed accepts (summarised by the caller). */
  acceptErrors = 0;

  constructor(private readonly targets: () => HandoffTarget[], private readonly clock: Clock = systemClock) {
    // The worker's HTTP server never sees these sockets accepted, so the socket options its
    // own accept would set (http.Server's defaults: no Nagle, TCP keep-alive) are set here.
    const accept = (tls: boolean) => net.createServer({ pauseOnConnect: true, noDelay: true, keepAlive: true }, (socket) => {
      socket.on('error', noop);
      this.dispatch({ socket, since: this.clock.now(), attempts: 0, tls });
    });
    this.server = accept(false);
    this.tlsServer = accept(true);
  }

  /** Accept plain HTTP connections (`tls` false) or HTTPS ones (`tls` true) on `host:port`. */
  listen(host: string | undefined, port: number, tls = false): Promise<AddressInfo> {
    const server = tls ? this.tlsServer : this.server;
    return new Promise((resolve, reject) => {
      const onErr = (e: Error) => reject(e);
      server.once('error', onErr);
      server.listen({ host, port, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', onErr);
        // A failed accept (out of file descriptors, ...) is counted, never fatal.
        server.on('error', () => { this.acceptErrors++; });
        resolve(server.address() as AddressInfo);
      });
    });
  }

  /** The worker acknowledged connection `id`: it has its own copy (ok) or refused it. */
  acked(id: number, ok: boolean): void {
    const h = this.handed.get(id);
    if (!h) return;
    this.handed.delete(id);
    h.target.pending--;
    // Our copy of the descriptor only: the connection lives on in the worker.
    if (ok) h.socket.destroy();
    else this.dispatch(h);
  }

  /** A worker is gone (exited): what it had not acknowledged goes to another one. */
  targetGone(t: HandoffTarget): void {
    for (const h of [...this.handed.values()]) {
      if (h.target !== t) continue;
      this.handed.delete(h.id);
      t.pending--;
      this.dispatch(h);
    }
  }

  /** A worker became ready: connections that waited for one go now. */
  flush(): void {
    for (const w of this.waiting.splice(0)) this.dispatch(w);
  }

  /**
   * Periodic: close connections that waited too long for a worker, and those a live
   * worker has not acknowledged (it never got them). Connections of a worker that is
   * being killed wait for its exit, then go to another worker.
   */
  sweep(now: number, dying: (t: HandoffTarget) => boolean): void {
    while (this.waiting.length > 0 && now - this.waiting[0]!.since > WAIT_MS) this.drop(this.waiting.shift()!.socket);
    for (const h of [...this.handed.values()]) {
      if (now - h.since <= ACK_MS || dying(h.target)) continue;
      this.handed.delete(h.id);
      h.target.pending--;
      this.drop(h.socket);
    }
  }

  /** Stop accepting; close what no worker has taken. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.server.close();
    if (this.tlsServer.listening) this.tlsServer.close();
    for (const w of this.waiting.splice(0)) w.socket.destroy();
    for (const h of this.handed.values()) this.drop(h.socket);
    this.handed.clear();
  }

  private dispatch(w: Waiting): void {
    const { socket, since, attempts, tls } = w;
    if (socket.destroyed) return;
    if (this.closed || attempts >= MAX_ATTEMPTS) { this.drop(socket); return; }
    const target = this.pick(this.clock.now());
    if (!target) {
      if (this.waiting.length >= MAX_WAITING) this.drop(socket);
      else this.waiting.push({ socket, since, attempts, tls });
      return;
    }
    const id = ++this.seq;
    const h: Handed = { id, socket, target, since, attempts: attempts + 1, tls };
    this.handed.set(id, h);
    target.pending++;
    target.send(id, socket, (err) => {
      // Not delivered (the channel is closed): the worker does not have it.
      if (!err || this.handed.get(id) !== h) return;
      this.handed.delete(id);
      target.pending--;
      this.dispatch(h);
    }, tls);
  }

  /** The routable worker with the fewest unacknowledged connections, round robin among equals. */
  private pick(now: number): HandoffTarget | undefined {
    const list = this.targets();
    let best: HandoffTarget | undefined;
    let bestScore = Infinity;
    for (let k = 0; k < list.length; k++) {
      const t = list[(this.rr + k) % list.length]!;
      if (!t.routable()) continue;
      // A worker silent for a while is used only when no other one is routable.
      const score = t.pending + (t.fresh(now) ? 0 : 1e9);
      if (score < bestScore) { best = t; bestScore = score; }
    }
    this.rr = (this.rr + 1) % Math.max(1, list.length);
    return best;
  }

  /**
   * Close a connection whose worker may still hold a copy of it: shutting down our side
   * sends the client a FIN whoever else holds the descriptor (closing ours alone would not).
   */
  private drop(socket: net.Socket): void {
    this.dropped++;
    if (socket.destroyed) return;
    // The shutdown is done once our (empty) write queue is flushed: close after it.
    const t = unrefTimer(this.clock.setTimeout(() => socket.destroy(), DROP_MS));
    socket.once('close', () => { this.clock.clearTimeout(t); });
    socket.once('finish', () => socket.destroy());
    socket.end();
  }
}

function noop(): void { /* the client went away; nothing to do */ }
