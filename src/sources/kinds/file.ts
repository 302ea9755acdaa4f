import fs from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { RestreamerError, fromSystemError } from '../../errors.js';
import { UpstreamBase } from '../base.js';
import { Pacer } from '../pacer.js';
import { LoopClock, detectPacketSize } from '../../ts/loopclock.js';
import { TS_PACKET_SIZE } from '../../ts/packet.js';
import type { DataSink, NoOptions, SourceContext, SourceKind } from '../source.js';

// file:///abs/path[?loop][&realtime][&bitrate=N]
//
// Regular files are read with positioned fs.read into a fresh buffer per chunk (the
// consumer may keep references to what it is given). Named pipes and sockets are opened
// O_NONBLOCK, so the open never waits for a writer and never holds a threadpool thread,
// and are then read through a net.Socket on the descriptor (libuv polls it). Options,
// for regular files only:
//   loop      restart at the beginning at end of file, forever, as one endless stream:
//             the loop clock (ts/loopclock.ts) continues PCR, PTS, DTS and continuity
//             counters across each restart, in place in the buffer just read
//   realtime  release data at the pace of the stream's PCR (see pacer.ts)
//   bitrate   bits/s for realtime when the file has no PCR (default 4000000; k/M suffix)

/** Packets per read: ~64 KiB, whole packets so aligned files stay aligned per chunk. */
const CHUNK_PACKETS = 348;
const CHUNK = TS_PACKET_SIZE * CHUNK_PACKETS;
const DEFAULT_BITRATE = 4_000_000;

export interface FileOptions {
  path: string;
  loop: boolean;
  realtime: boolean;
  bitrate: number;
}

/** Parse bits/s: "4000000", "4000k", "4M". NaN when invalid. */
function parseBitrate(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(s.trim());
  if (!m) return NaN;
  const mult = m[2] === '' ? 1 : m[2]!.toLowerCase() === 'k' ? 1e3 : 1e6;
  const v = Number(m[1]) * mult;
  return v > 0 ? v : NaN;
}

function parseFileUrl(url: URL): FileOptions | string {
  // The URL parser already turns file://localhost/x into file:///x.
  if (url.hostname) return `file upstream must be an absolute local path: file:///path (got host "${url.hostname}")`;
  let path: string;
  try {
    path = fileURLToPath(new URL(url.pathname, 'file:///'));
  } catch (e) {
    return `invalid file URL: ${(e as Error).message}`;
  }
  if (!path.startsWith('/')) return 'file upstream path must be absolute';
  const q = url.searchParams;
  for (const key of q.keys()) {
    if (key !== 'loop' && key !== 'realtime' && key !== 'bitrate') return `unknown file upstream option "${key}" (known: loop, realtime, bitrate)`;
  }
  let bitrate = DEFAULT_BITRATE;
  const b = q.get('bitrate');
  if (b !== null) {
    bitrate = parseBitrate(b);
    if (Number.isNaN(bitrate)) return `invalid bitrate "${b}" (bits/s, e.g. 4000000 or 4M)`;
  }
  return { path, loop: q.has('loop'), realtime: q.has('realtime'), bitrate };
}

class FileUpstream extends UpstreamBase {
  private fd = -1;
  private socket: net.Socket | undefined;
  private reading = false;
  private pos = 0;
  private pacer: Pacer | undefined;
  private clock: LoopClock | undefined;
  /** Loop, realtime: where the first packet starts (garbage before it is skipped on every pass), -1 until known. */
  private start = -1;
  /** Bytes per read: whole packets of the file's packet size. */
  private chunk = CHUNK;

  constructor(private readonly opts: FileOptions, private readonly onData: DataSink) {
    super();
    // O_NONBLOCK: a FIFO without a writer opens at once instead of blocking a pool thread.
    fs.open(opts.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK, (err, fd) => {
      if (err) { this.finish(fromSystemError(err, `open ${opts.path}`)); return; }
      this.fd = fd;
      if (this.isDone) { this.closeFd(); return; }
      fs.fstat(fd, (e, st) => {
        if (this.isDone) { this.closeFd(); return; }
        if (e) { this.finish(fromSystemError(e, `stat ${opts.path}`)); return; }
        if (st.isFIFO() || st.isSocket()) this.startPipe();
        else if (st.isDirectory()) this.finish(new RestreamerError('UPSTREAM_IO', `${opts.path} is a directory`));
        else this.startFile();
      });
    });
  }

  private startPipe(): void {
    const s = new net.Socket({ fd: this.fd, readable: true, writable: false });
    this.socket = s;
    this.fd = -1; // the socket owns the descriptor now
    // A pipe counts as connected once a writer delivers data, like the original
    // (its open blocked until then).
    s.on('data', (chunk: Buffer) => {
      this.markConnected();
      this.onData(chunk);
    });
    s.on('end', () => this.finish());
    s.on('error', (e) => this.finish(fromSystemError(e, `reading ${this.opts.path}`)));
    s.on('close', () => this.finish());
  }

  private startFile(): void {
    if (this.opts.realtime) {
      this.pacer = new Pacer({
        emit: this.onData,
        onLow: () => this.readNext(),
        fallbackBitrate: this.opts.bitrate,
      });
    }
    if (!this.opts.loop && !this.opts.realtime) this.start = 0;
    this.markConnected();
    this.readNext();
  }

  private readNext(): void {
    if (this.isDone || this.reading || this.fd < 0) return;
    this.reading = true;
    const size = this.chunk;
    const buf = Buffer.allocUnsafe(size);
    fs.read(this.fd, buf, 0, size, this.pos, (err, n) => {
      this.reading = false;
      if (this.isDone) { this.closeFd(); return; }
      if (err) { this.finish(fromSystemError(err, `reading ${this.opts.path}`)); return; }
      if (n === 0) { this.atEof(); return; }
      if (this.start < 0) {
        // Read whole packets (188, or 192/204 bytes) from the first one, so every read,
        // and every pass of a loop, stays aligned: the loop clock and the pacer rely on it.
        const d = detectPacketSize(buf, 0, n);
        this.start = d ? d.start : 0;
        const stride = d ? d.size : TS_PACKET_SIZE;
        this.chunk = stride * CHUNK_PACKETS;
        if (this.opts.loop) this.clock = new LoopClock(stride, d ? d.sync - d.start : 0);
        if (this.pacer) this.pacer.packetSize = stride;
        if (this.start > 0 || this.chunk !== size) { this.pos = this.start; this.readNext(); return; }
      }
      this.clock?.process(buf, 0, n);
      this.pos += n;
      const chunk = n === size ? buf : buf.subarray(0, n);
      if (this.pacer) {
        this.pacer.push(chunk);
        if (this.pacer.wantsMore()) this.readNext();
      } else {
        this.onData(chunk);
        this.readNext();
      }
    });
  }

  private atEof(): void {
    // pos > 0: an empty file must not spin in a read loop.
    if (this.opts.loop && this.pos > 0) {
      this.pos = Math.max(0, this.start);
      this.clock?.restart();
      this.readNext();
      return;
    }
    if (this.pacer) this.pacer.end(() => this.finish());
    else this.finish();
  }

  private closeFd(): void {
    if (this.fd < 0 || this.reading) return; // a read in flight closes it when it returns
    const fd = this.fd;
    this.fd = -1;
    fs.close(fd, () => {});
  }

  protected teardown(): void {
    this.pacer?.close();
    this.socket?.destroy();
    this.closeFd();
  }
}

export const fileKind: SourceKind<NoOptions> = {
  schemes: ['file'],
  validate(url) {
    const r = parseFileUrl(url);
    return typeof r === 'string' ? r : undefined;
  },
  open(ctx: SourceContext<NoOptions>, onData: DataSink) {
    const r = parseFileUrl(ctx.url);
    if (typeof r === 'string') throw new RestreamerError('UPSTREAM_UNSUPPORTED', r);
    return new FileUpstream(r, onData);
  },
};
