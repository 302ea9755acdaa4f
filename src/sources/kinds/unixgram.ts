import { lstatSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import type * as Nus from 'node-unix-socket';
import { RestreamerError, errorText } from '../../errors.js';
import { FaultSummary } from '../../log/faults.js';
import { EVT, type Logger } from '../../log/logger.js';
import { UpstreamBase } from '../base.js';
import type { DataSink, SourceContext, SourceKind, SourceOptions } from '../source.js';
import { sizeRecvBuffer } from '../datagram.js';

// Datagram Unix sockets, which Node's net module cannot open, through node-unix-socket
// (a napi-rs addon shipped prebuilt for Linux/macOS x64/arm64; loaded on first use).
// - unixgram:///path: restreamer binds a SOCK_DGRAM socket at `path` and receives what is
//   sent to it (the sender addresses the path, like udp unicast). A stale socket file left
//   by a previous run is replaced; one a live process has bound is an error. The file is
//   removed on close. (The Go original dialed the path, which cannot receive anything.)
// - unixpacket:///path: connects to a SOCK_SEQPACKET server listening at `path`; message
//   boundaries are kept; the server closing the connection ends the upstream.
// Datagrams larger than `mru` are dropped and counted; the addon reads at most 65535
// bytes of one unixgram datagram, so larger ones cannot be told from 65535-byte ones.

let nus: typeof Nus | undefined;
let loadError: string | undefined;

/** The addon, or undefined with loadError set when this platform has no build of it. */
function addon(): typeof Nus | undefined {
  if (nus || loadError) return nus;
  try {
    nus = createRequire(import.meta.url)('node-unix-socket') as typeof Nus;
  } catch (e) {
    loadError = (e as Error).message.split('\n')[0];
  }
  return nus;
}

function socketPath(url: URL): string {
  return decodeURIComponent(url.pathname);
}

function validate(url: URL): string | undefined {
  const scheme = url.protocol.replace(/:$/, '');
  if (url.hostname) return `${scheme} upstream takes an absolute path: ${scheme}:///path/to.sock (got host "${url.hostname}")`;
  if (!url.pathname || url.pathname === '/') return `${scheme} upstream needs a socket path: ${scheme}:///path/to.sock`;
  if (!addon()) {
    return `${scheme} sockets need the package node-unix-socket, which cannot be loaded on this platform (${process.platform}-${process.arch}): ${loadError}; use unix:// (stream socket), udp:// or fork:// instead`;
  }
  return undefined;
}

/** node-unix-socket reports errno text with code "Unknown": map the text onto the catalogue. */
function toError(e: unknown, what: string): RestreamerError {
  const msg = errorText(e);
  const code = /refused/i.test(msg) ? 'UPSTREAM_REFUSED' : 'UPSTREAM_IO';
  return new RestreamerError(code, `${what}: ${msg}`, { cause: e });
}

/** Is the socket file at `path` bound by a live process? A stream connect tells without sending anything. */
function probeLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ path });
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', (e: NodeJS.ErrnoException) => { s.destroy(); resolve(e.code !== 'ECONNREFUSED' && e.code !== 'ENOENT'); });
  });
}

/** The addon reports some connect failures as "Unknown errno": say what is at the path instead. */
function describeConnectFailure(path: string, e: unknown): string {
  try {
    if (!lstatSync(path).isSocket()) return 'not a socket';
  } catch {
    return 'No such file or directory';
  }
  const msg = errorText(e);
  return /unknown errno/i.test(msg) ? `${msg} (is a SOCK_SEQPACKET server listening there?)` : msg;
}

/** What unixgram:// and unixpacket:// read from the resource: the largest datagram. */
export type UnixDatagramOptions = Pick<SourceOptions, 'mru'>;

interface Counters { datagrams: number; bytes: number; oversize: number; recvBufferBytes: number }

class UnixgramUpstream extends UpstreamBase {
  readonly stats: Counters = { datagrams: 0, bytes: 0, oversize: 0, recvBufferBytes: 0 };
  // Connected at the first datagram, not when bound: a bound socket proves nothing.
  override readonly connectsOnData = true;
  /** Resolves once the socket is bound; never rejects (see `connected`). */
  readonly ready: Promise<void>;
  private resolveBound!: () => void;
  private sock: Nus.DgramSocket | undefined;
  private bound = false;
  private readonly summary: FaultSummary;

  constructor(private readonly ctx: SourceContext<UnixDatagramOptions>, private readonly path: string, private readonly onData: DataSink) {
    super();
    this.summary = new FaultSummary(ctx.log, () => ({ oversize: this.stats.oversize }));
    this.ready = new Promise((res) => { this.resolveBound = res; });
    void this.open();
  }

  private async open(): Promise<void> {
    const m = addon();
    if (!m) { this.finish(new RestreamerError('UPSTREAM_UNSUPPORTED', `unixgram: node-unix-socket unavailable: ${loadError}`)); return; }
    let isSocket = false;
    try { isSocket = lstatSync(this.path).isSocket(); } catch { /* absent: fine */ }
    if (isSocket) {
      if (await probeLive(this.path)) {
        this.finish(new RestreamerError('UPSTREAM_IO', `unixgram ${this.path}: another process has bound this socket`));
        return;
      }
      if (this.isDone) return;
      try { unlinkSync(this.path); } catch { /* raced: bind reports it */ }
      this.ctx.log.info({ evt: EVT.upstreamInfo, path: this.path }, 'removed a stale socket file');
    }
    if (this.isDone) return;
    const s = new m.DgramSocket();
    this.sock = s;
    s.on('error', (e) => this.finish(toError(e, `unixgram ${this.path}`)));
    s.on('data', (buf: Buffer) => this.onMessage(buf));
    try {
      s.bind(this.path);
    } catch (e) {
      this.finish(toError(e, `unixgram bind ${this.path}`));
      return;
    }
    this.bound = true;
    this.stats.recvBufferBytes = sizeRecvBuffer(this.ctx.log, this.ctx.inputBufferPackets, (n) => s.setRecvBufferSize(n), () => s.getRecvBufferSize());
    this.summary.start();
    this.resolveBound();
  }

  private onMessage(buf: Buffer): void {
    if (this.isDone) return;
    if (this.stats.datagrams++ === 0) this.markConnected();
    if (buf.length > this.ctx.options.mru) {
      this.stats.oversize++;
      this.summary.first('oversize', { size: buf.length, mru: this.ctx.options.mru }, 'datagram larger than mru dropped (raise the resource\'s "mru")');
      return;
    }
    this.stats.bytes += buf.length;
    this.onData(buf);
  }

  protected teardown(): void {
    this.summary.stop();
    const s = this.sock;
    this.sock = undefined;
    try { s?.close(); } catch { /* closed */ }
    if (this.bound) {
      this.bound = false;
      try { unlinkSync(this.path); } catch { /* removed by someone else */ }
    }
  }
}

class UnixpacketUpstream extends UpstreamBase {
  readonly stats: Counters = { datagrams: 0, bytes: 0, oversize: 0, recvBufferBytes: 0 };
  private sock: Nus.SeqpacketSocket | undefined;
  private readonly summary: FaultSummary;
  private readonly mru: number;

  constructor(log: Logger, path: string, mru: number, onData: DataSink) {
    super();
    this.mru = mru;
    this.summary = new FaultSummary(log, () => ({ oversize: this.stats.oversize }));
    const m = addon();
    if (!m) { this.finish(new RestreamerError('UPSTREAM_UNSUPPORTED', `unixpacket: node-unix-socket unavailable: ${loadError}`)); return; }
    const s = new m.SeqpacketSocket();
    this.sock = s;
    // One byte more than mru: a longer message arrives cut to mru+1 and is recognised as oversized.
    s.setInternalReadBufferSize(mru + 1);
    s.on('connect', () => { this.summary.start(); this.markConnected(); });
    s.on('data', (buf: Buffer) => {
      if (this.isDone) return;
      this.stats.datagrams++;
      if (buf.length > this.mru) {
        this.stats.oversize++;
        this.summary.first('oversize', { size: `>${this.mru}`, mru: this.mru }, 'message larger than mru dropped (raise the resource\'s "mru")');
        return;
      }
      this.stats.bytes += buf.length;
      onData(buf);
    });
    let connecting = true;
    s.on('end', () => this.finish());
    s.on('error', (e) => this.finish(toError(e, `unixpacket ${path}`)));
    // A failed connect() emits 'close' synchronously and then throws: let the throw explain.
    s.on('close', () => { if (!connecting) this.finish(); });
    try {
      s.connect(path);
    } catch (e) {
      const err = toError(new Error(describeConnectFailure(path, e)), `unixpacket connect ${path}`);
      queueMicrotask(() => this.finish(err));
    }
    connecting = false;
  }

  protected teardown(): void {
    this.summary.stop();
    const s = this.sock;
    this.sock = undefined;
    try { s?.destroy(); } catch { /* closed */ }
  }
}

export const unixgramKind: SourceKind<UnixDatagramOptions> = {
  schemes: ['unixgram'],
  validate,
  open(ctx: SourceContext<UnixDatagramOptions>, onData: DataSink) {
    return new UnixgramUpstream(ctx, socketPath(ctx.url), onData);
  },
};

export const unixpacketKind: SourceKind<UnixDatagramOptions> = {
  schemes: ['unixpacket'],
  validate,
  open(ctx: SourceContext<UnixDatagramOptions>, onData: DataSink) {
    return new UnixpacketUpstream(ctx.log, socketPath(ctx.url), ctx.options.mru, onData);
  },
};
