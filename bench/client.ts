// Lean benchmark client process: opens `count` stream connections at once over raw
// sockets and checks what arrives, without per-packet allocation.
//   node --import tsx bench/client.ts '{"host":"127.0.0.1","port":N,"path":"/s.ts","count":100,...}'
// Per connection: status, time to first response byte and to first TS byte, TS bytes,
// 188-alignment errors, continuity-counter errors per PID (= losses), gaps in the
// timestamp packets' sequence; per process: a latency histogram from those timestamps.
// The process prints {"type":"booted"} and connects only when stdin says "go", so that
// every client process of a run connects in the same moment (not one per process boot,
// with the others' startup competing for the CPU); times are measured from "go".
// Stdin lines: "go" opens every connection at once, "window" starts the measurement
// window, "report" prints the results as one JSON line and exits. End of stdin (parent
// gone) exits too.
import net from 'node:net';
import { createInterface } from 'node:readline';
import { TS, STAMP_PID, STAMP_MAGIC, nowUs } from './lib/stamp.js';

export interface ClientOptions {
  host: string;
  port: number;
  path: string;
  count: number;
  /** '1.1' (chunked answer, parsed here) or '1.0' (plain byte stream). */
  http?: '1.0' | '1.1';
  /** Connect, send the request, never read. */
  stall?: boolean;
}

/** Latency histogram: 100 µs bins up to 10 s, last bin = overflow. */
export const LAT_BIN_US = 100;
const LAT_BINS = 100_000;
const latHist = new Uint32Array(LAT_BINS);
let windowOn = false;

/** Only null packets are exempt from CC checks: even the PAT/PMT a keyframe start sends first must continue seamlessly. */
const noCcCheck = new Uint8Array(8192);
noCcCheck[0x1fff] = 1;

const enum St { Head, Size, SizeLf, Data, DataCr, DataLf, Done }

class Conn {
  status = 0;
  /** When the client saw its TCP connection established (and sent the request). */
  connectMs = -1;
  ttfbMs = -1;
  mediaMs = -1;
  bytes = 0;
  bytesAtWindow = 0;
  ccErrors = 0;
  ccAtWindow = 0;
  stampGaps = 0;
  syncErrors = 0;
  error = '';
  closed = false;
  private st = St.Head;
  private head = '';
  private chunked = false;
  private chunkLeft = 0;
  private chunkExt = false;
  private readonly carry = Buffer.allocUnsafe(TS);
  private carryLen = 0;
  private readonly cc = new Int8Array(8192).fill(-1);
  private lastSeq = -1;
  private now = 0;
  readonly sock: net.Socket;

  constructor(o: ClientOptions, shared: Buffer, private readonly t0: number) {
    const req = `GET ${o.path} HTTP/${o.http ?? '1.1'}\r\nHost: ${o.host}:${o.port}\r\nUser-Agent: restreamer-bench\r\n\r\n`;
    const onread = o.stall ? undefined : { buffer: shared, callback: (n: number, b: Buffer): boolean => { this.onData(b, n); return true; } };
    this.sock = net.connect({ host: o.host, port: o.port, onread } as net.NetConnectOpts);
    this.sock.on('connect', () => {
      this.connectMs = performance.now() - this.t0;
      this.sock.write(req);
      if (o.stall) this.sock.pause();
    });
    this.sock.on('error', (e: NodeJS.ErrnoException) => { this.error ||= e.code ?? e.message; });
    this.sock.on('close', () => { this.closed = true; onSettled(this); });
    if (o.stall) this.sock.once('readable', () => { this.ttfbMs = performance.now() - this.t0; onSettled(this); });
  }

  markWindow(): void { this.bytesAtWindow = this.bytes; this.ccAtWindow = this.ccErrors; }

  private onData(b: Buffer, n: number): void {
    if (this.ttfbMs < 0) this.ttfbMs = performance.now() - this.t0;
    this.now = 0;
    let i = 0;
    while (i < n) {
      switch (this.st) {
        case St.Head: i = this.parseHead(b, i, n); break;
        case St.Size: {
          const c = b[i++]!;
          if (c === 0x0d) this.st = St.SizeLf;
          else if (c === 0x3b) this.chunkExt = true; // ';' starts an extension: ignored
          else if (!this.chunkExt) {
            const d = c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57;
            if (d < 0 || d > 15) { this.fail('bad chunk size'); return; }
            this.chunkLeft = this.chunkLeft * 16 + d;
          }
          break;
        }
        case St.SizeLf:
          i++;
          this.chunkExt = false;
          this.st = this.chunkLeft === 0 ? St.Done : St.Data;
          break;
        case St.Data: {
          const take = this.chunked ? Math.min(this.chunkLeft, n - i) : n - i;
          this.feed(b, i, i + take);
          i += take;
          if (this.chunked && (this.chunkLeft -= take) === 0) this.st = St.DataCr;
          break;
        }
        case St.DataCr: i++; this.st = St.DataLf; break;
        case St.DataLf: i++; this.st = St.Size; break;
        case St.Done: return;
      }
    }
  }

  private parseHead(b: Buffer, i: number, n: number): number {
    const before = this.head.length;
    this.head += b.toString('latin1', i, Math.min(n, i + 4096));
    const end = this.head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.head.length > 16384) this.fail('header too long');
      return n;
    }
    const head = this.head.slice(0, end);
    this.status = Number(head.slice(9, 12));
    this.chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
    this.head = '';
    if (this.status !== 200) { this.fail(`status ${this.status}`); return n; }
    this.st = this.chunked ? St.Size : St.Data;
    return i + (end + 4 - before);
  }

  private fail(why: string): void {
    this.error ||= why;
    this.st = St.Done;
    this.sock.destroy();
  }

  /** TS bytes: whole packets in place, a packet split across reads via `carry`. */
  private feed(b: Buffer, o: number, end: number): void {
    if (o === end) return;
    if (this.mediaMs < 0) { this.mediaMs = performance.now() - this.t0; onSettled(this); }
    this.bytes += end - o;
    if (this.carryLen > 0) {
      const k = Math.min(TS - this.carryLen, end - o);
      b.copy(this.carry, this.carryLen, o, o + k);
      this.carryLen += k;
      o += k;
      if (this.carryLen < TS) return;
      this.carryLen = 0;
      this.packet(this.carry, 0);
    }
    while (end - o >= TS) {
      if (b[o] !== 0x47) {
        this.syncErrors++;
        do o++; while (o < end && b[o] !== 0x47);
        continue;
      }
      this.packet(b, o);
      o += TS;
    }
    if (o < end) { b.copy(this.carry, 0, o, end); this.carryLen = end - o; }
  }

  private packet(b: Buffer, o: number): void {
    if (b[o] !== 0x47) { this.syncErrors++; return; }
    const pid = ((b[o + 1]! & 0x1f) << 8) | b[o + 2]!;
    const b3 = b[o + 3]!;
    const cc = b3 & 15;
    if ((b3 & 0x20) !== 0 && b[o + 4]! > 0 && (b[o + 5]! & 0x80) !== 0) { this.cc[pid] = cc; return; } // discontinuity
    const last = this.cc[pid]!;
    if (last >= 0 && (b3 & 0x10) !== 0 && noCcCheck[pid] === 0 && cc !== ((last + 1) & 15) && cc !== last) this.ccErrors++;
    this.cc[pid] = cc;
    if (pid === STAMP_PID && b.readUInt32BE(o + 4) === STAMP_MAGIC) {
      const seq = b.readUInt32BE(o + 8);
      if (this.lastSeq >= 0 && seq > this.lastSeq + 1) this.stampGaps += seq - this.lastSeq - 1;
      this.lastSeq = seq;
      if (windowOn) {
        if (this.now === 0) this.now = nowUs();
        const bin = Math.floor((this.now - b.readDoubleLE(o + 12)) / LAT_BIN_US);
        latHist[bin < 0 ? 0 : bin >= LAT_BINS ? LAT_BINS - 1 : bin]!++;
      }
    }
  }
}

const opts = JSON.parse(process.argv[2] ?? '{}') as ClientOptions;
const shared = Buffer.allocUnsafe(256 * 1024);
const conns: Conn[] = [];
let settled = 0;
const settledSet = new WeakSet<Conn>();
/** A connection is settled once it has media (or, stalled, any byte) or has failed. */
function onSettled(c: Conn): void {
  if (settledSet.has(c)) return;
  settledSet.add(c);
  if (++settled === opts.count) process.stdout.write(JSON.stringify({ type: 'ready', count: conns.length }) + '\n');
}
function go(): void {
  if (conns.length > 0) return;
  const t0 = performance.now();
  for (let k = 0; k < opts.count; k++) conns.push(new Conn(opts, shared, t0));
}

function report(): void {
  const hist: [number, number][] = [];
  for (let i = 0; i < LAT_BINS; i++) if (latHist[i]) hist.push([i, latHist[i]!]);
  const clients = conns.map((c) => ({
    status: c.status, connectMs: +c.connectMs.toFixed(1), ttfbMs: +c.ttfbMs.toFixed(1), mediaMs: +c.mediaMs.toFixed(1),
    bytes: c.bytes, windowBytes: c.bytes - c.bytesAtWindow, ccErrors: c.ccErrors, windowCcErrors: c.ccErrors - c.ccAtWindow,
    stampGaps: c.stampGaps, syncErrors: c.syncErrors, closed: c.closed, error: c.error,
  }));
  process.stdout.write(JSON.stringify({ type: 'report', clients, latHist: hist, binUs: LAT_BIN_US }) + '\n', () => process.exit(0));
}

createInterface({ input: process.stdin })
  .on('line', (l) => {
    const cmd = l.trim();
    if (cmd === 'go') go();
    else if (cmd === 'window') { windowOn = true; for (const c of conns) c.markWindow(); }
    else if (cmd === 'report') report();
  })
  .on('close', () => process.exit(0));
process.stdout.write(JSON.stringify({ type: 'booted' }) + '\n');
