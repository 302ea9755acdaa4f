import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log/logger.js';
import { EVT } from '../log/logger.js';
import { noteFor } from './notes.js';
import { RepeatLog } from '../log/faults.js';
import { CATALOGUE } from '../errors.js';
import { systemClock, type Clock } from '../hub/clock.js';
import type { AdmissionGate, ClientSink, EndReason, StreamClient, StreamState } from '../stream/contracts.js';
import { TS_PACKET_SIZE } from '../ts/packet.js';

export interface StreamEndpointOptions {
  stream: StreamState;
  admission: AdmissionGate;
  preamble?: Buffer;
  log: Logger;
  /** Told of each admitted client (the status page); returns what to call when it leaves. Per connection, never per packet. */
  onClient?: (c: AdmittedClient) => () => void;
  /** Time (default the real clock): the stream's hub's, so client durations agree with it. */
  clock?: Clock;
}

/** An admitted client as the status page sees it: who it is, its hub counters, and a way to end it. */
export interface AdmittedClient {
  readonly stream: string;
  readonly remote: string | undefined;
  readonly userAgent: string | undefined;
  /** The authenticated user, when the stream has authentication. */
  readonly user: string | undefined;
  readonly client: StreamClient;
  /** End this client's response (operator action; logged with reason "kicked"). */
  end(): void;
}

/** Headers of the Go restreamer, with Accept-Ranges spelt right and its misspelling kept. */
function streamHeaders(now: number): Record<string, string> {
  return {
    'Content-Type': 'video/mpeg',
    'Cache-Control': 'no-cache,no-store,no-transform',
    'Last-Modified': new Date(now).toUTCString(),
    'Accept-Ranges': 'none',
    'Accept-Range': 'none',
  };
}

/** Rejection lines per client address before its further rejections are only counted (a retry loop). */
const REJECTED_LINES_PER_ADDRESS = 3;

export class StreamEndpoint {
  private clientSeq = 0;
  /** "Why did this TV get 404?": one info line per rejection, summarised per address when one floods. */
  private readonly rejected: RepeatLog;
  private readonly clock: Clock;
  constructor(private readonly o: StreamEndpointOptions) {
    this.clock = o.clock ?? systemClock;
    this.rejected = new RepeatLog(o.log, { level: 'info', burst: REJECTED_LINES_PER_ADDRESS, timers: this.clock });
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const { stream } = this.o;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Length': '0' }).end();
      return;
    }
    if (!stream.available) {
      if (!stream.ondemand) return this.reject(res, 'offline');
      // On demand: hold the request until the upstream delivers (bounded by `timeout`).
      void stream.demand().then((ok) => {
        if (res.destroyed) return;
        if (!ok || !stream.available) this.reject(res, 'offline');
        else this.serve(req, res);
      });
      return;
    }
    this.serve(req, res);
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    const { admission } = this.o;
    if (req.method === 'HEAD') {
      res.writeHead(200, streamHeaders(this.clock.now())).end();
      return;
    }
    const got = admission.acquire();
    if (got === true) return this.admit(req, res);
    if (got === false) return this.reject(res, 'limit');
    void got.then((ok) => {
      if (!ok) return this.reject(res, 'limit');
      if (res.destroyed) { admission.release(); return; }
      this.admit(req, res);
    });
  }

  /** A slot was granted: send headers (and preamble) and join the hub. */
  private admit(req: IncomingMessage, res: ServerResponse): void {
    const { stream, admission, log } = this.o;
    const id = ++this.clientSeq;
    // Plain fields, not a child logger: a mass connect would build a thousand of them.
    const who = { client: id, remote: req.socket.remoteAddress, port: req.socket.remotePort };
    // Headers, preamble, PAT/PMT and the keyframe burst leave in one writev, not one
    // syscall each (measured: the separate header write cost ~10 % of a mass connect).
    const corked = req.socket;
    corked.cork();
    res.writeHead(200, streamHeaders(this.clock.now()));
    if (this.o.preamble && this.o.preamble.length > 0) res.write(this.o.preamble);
    res.flushHeaders();

    let client: StreamClient | undefined;
    // The hot path: the hub hands over buffers already framed for the wire (chunked for
    // HTTP/1.1), written straight to the socket in one write each. Node writes the headers
    // (above) and, on end(), the last chunk. Node gives a response its connection
    // (res.socket) only while it is the one on the wire: a request pipelined behind another
    // is answered into a queue, res.socket null, until the earlier response has finished.
    // Then Node's own res.write() frames and queues instead.
    const socket = res.socket;
    const direct = socket !== null && socket === req.socket && socket.writable;
    const sink: ClientSink = direct
      ? { framing: res.chunkedEncoding ? 'chunked' : 'raw', write: (buf) => socket.write(buf), end: (r) => finish(r) }
      : { framing: 'raw', write: (buf) => res.write(buf), end: (r) => finish(r) };
    // A client too slow to read would never take a graceful end: cut it off.
    // An operator's kick closes the connection too, so a keep-alive client cannot linger.
    const finish = (reason: EndReason) => { endReason = reason; if (reason === 'too_slow' || reason === 'kicked') res.destroy(); else res.end(); };
    let endReason: EndReason = 'closed';
    client = stream.hub.addClient(sink);
    corked.uncork();
    stream.viewerJoined();
    const note = noteFor(res);
    note.client = client;
    log.info({ ...who, evt: EVT.clientConnect, stream: stream.name, ua: req.headers['user-agent'] }, 'client connected');
    const admitted = client;
    const forget = this.o.onClient?.({
      stream: stream.name, remote: req.socket.remoteAddress, userAgent: req.headers['user-agent'],
      user: note.user, client: admitted,
      end: () => { if (!admitted.closed) { stream.hub.removeClient(admitted); finish('kicked'); } },
    });

    const drainer = direct ? socket : res;
    const onDrain = () => { if (client) stream.hub.drained(client); };
    drainer.on('drain', onDrain);
    res.once('close', () => {
      drainer.off('drain', onDrain);
      const c = client;
      if (!c) return;
      client = undefined;
      forget?.();
      stream.hub.removeClient(c);
      admission.release();
      stream.viewerLeft();
      log.info({
        ...who, evt: EVT.clientDisconnect, stream: stream.name, reason: endReason,
        durationMs: this.clock.now() - c.connectedAt,
        bytes: c.packetsSent * TS_PACKET_SIZE, packetsSent: c.packetsSent, packetsDropped: c.packetsDropped,
      }, 'client disconnected');
    });
  }

  /** Offline or full: the catalogue's status (404, legacy clients hate 503) with the stream headers and an empty body. */
  private reject(res: ServerResponse, why: 'offline' | 'limit'): void {
    const code = why === 'offline' ? 'STREAM_OFFLINE' : 'LIMIT_REACHED';
    const { remoteAddress, remotePort } = res.req.socket;
    this.rejected.note(remoteAddress ?? '', {
      evt: EVT.clientRejected, stream: this.o.stream.name, reason: why, code, remote: remoteAddress, port: remotePort, ua: res.req.headers['user-agent'],
    }, why === 'offline' ? 'client rejected: the stream is offline' : 'client rejected: connection limit reached');
    res.writeHead(CATALOGUE[code].status, { ...streamHeaders(this.clock.now()), 'Content-Length': '0' }).end();
  }
}
