// Paced MPEG-TS upstream for the benchmark, run as its own process.
//   node --import tsx bench/source.ts '{"mode":"http"|"mcast","file":...,"bitrate":4e6,...}'
// Loops a real TS file at an exact bitrate in ~10 ms slices, rewriting continuity
// counters so the loop point is seamless, and starts every slice with one timestamp
// packet (bench/lib/stamp.ts). HTTP mode serves every GET on 127.0.0.1 with its own
// pacer; mcast mode sends 7-packet datagrams to a group (inside a namespace).
// Stdin lines: "report" prints pacing statistics; end of stdin (parent gone) exits.
import net from 'node:net';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { TS, STAMP_PID, nowUs, writeStamp } from './lib/stamp.js';

interface SourceOptions {
  mode: 'http' | 'mcast';
  file: string;
  bitrate: number;
  sliceMs?: number;
  group?: string;
  port?: number;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as SourceOptions;
const sliceMs = opts.sliceMs ?? 10;
const content = readFileSync(opts.file);
const contentPackets = Math.floor(content.length / TS);
if (contentPackets < 1 || content[0] !== 0x47) throw new Error(`${opts.file}: not an MPEG-TS file`);

const stats = { bytes: 0, slices: 0, lateTicks: 0, maxLateMs: 0, droppedSlices: 0, connections: 0 };

/** One paced output: exact bitrate, seamless CCs, a timestamp packet per slice. */
class Pacer {
  private readonly cc = new Int8Array(8192).fill(-1);
  private pos = 0;
  private sent = 0;
  private seq = 0;
  private stampCc = 0;
  private readonly t0 = nowUs();
  private ticks = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly pktPerUs: number;

  constructor(bitrate: number, private readonly out: (slice: Buffer) => void) {
    this.pktPerUs = bitrate / 8 / TS / 1e6;
    this.tick();
  }

  private readonly tick = (): void => {
    const now = nowUs();
    const due = Math.floor((now - this.t0) * this.pktPerUs) - this.sent;
    const late = (now - this.t0) / 1000 - this.ticks * sliceMs;
    if (late > 2 * sliceMs) { stats.lateTicks++; stats.maxLateMs = Math.max(stats.maxLateMs, late); }
    if (due > 0) {
      const slice = Buffer.allocUnsafe(due * TS);
      writeStamp(slice, 0, this.stampCc, this.seq++, nowUs());
      this.stampCc = (this.stampCc + 1) & 15;
      for (let i = 1; i < due; i++) this.copyPacket(slice, i * TS);
      this.sent += due;
      stats.bytes += slice.length;
      this.out(slice);
    }
    stats.slices++;
    this.ticks++;
    // Aim at the next slice boundary of the ideal timeline, so timer drift does not add up.
    const next = (this.ticks * sliceMs) - (nowUs() - this.t0) / 1000;
    this.timer = setTimeout(this.tick, Math.max(1, next));
  };

  private copyPacket(dst: Buffer, o: number): void {
    content.copy(dst, o, this.pos * TS, this.pos * TS + TS);
    if (++this.pos === contentPackets) this.pos = 0;
    const pid = ((dst[o + 1]! & 0x1f) << 8) | dst[o + 2]!;
    if (pid === 0x1fff || pid === STAMP_PID) return;
    const b3 = dst[o + 3]!;
    let cc = this.cc[pid]!;
    if (cc < 0) cc = b3 & 15;
    else if (b3 & 0x10) cc = (cc + 1) & 15; // only payload-bearing packets advance the CC
    this.cc[pid] = cc;
    dst[o + 3] = (b3 & 0xf0) | cc;
  }

  stop(): void { if (this.timer) clearTimeout(this.timer); this.timer = undefined; }
}

const pacers = new Set<Pacer>();

function serveHttp(): void {
  const server = net.createServer((sock) => {
    let head = '';
    let pacer: Pacer | undefined;
    sock.setNoDelay(true);
    sock.on('data', (d) => {
      if (pacer) return;
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      stats.connections++;
      // No chunked framing: a plain byte stream until the connection closes.
      sock.write('HTTP/1.1 200 OK\r\nContent-Type: video/mpeg\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n');
      pacer = new Pacer(opts.bitrate, (slice) => {
        // Never queue without bound: a reader that falls seconds behind loses slices.
        if (sock.writableLength > opts.bitrate / 8) { stats.droppedSlices++; return; }
        sock.write(slice);
      });
      pacers.add(pacer);
    });
    const stop = (): void => { if (pacer) { pacer.stop(); pacers.delete(pacer); } };
    sock.on('close', stop);
    sock.on('error', stop);
  });
  server.listen(opts.port ?? 0, '127.0.0.1', () => {
    const a = server.address() as net.AddressInfo;
    process.stdout.write(JSON.stringify({ type: 'listening', port: a.port }) + '\n');
  });
}

function sendMulticast(): void {
  const [group, portStr] = (opts.group ?? '239.255.1.1:5000').split(':');
  const port = Number(portStr);
  const sock = dgram.createSocket('udp4');
  sock.bind(0, '127.0.0.1', () => {
    sock.setMulticastInterface('127.0.0.1');
    sock.setMulticastTTL(1);
    sock.setMulticastLoopback(true);
    const dgramBytes = 7 * TS;
    pacers.add(new Pacer(opts.bitrate, (slice) => {
      for (let o = 0; o < slice.length; o += dgramBytes) {
        sock.send(slice, o, Math.min(dgramBytes, slice.length - o), port, group);
      }
    }));
    stats.connections = 1;
    process.stdout.write(JSON.stringify({ type: 'sending', group, port }) + '\n');
  });
}

if (opts.mode === 'mcast') sendMulticast();
else serveHttp();

const exit = (): void => { for (const p of pacers) p.stop(); process.exit(0); };
createInterface({ input: process.stdin })
  .on('line', (l) => { if (l.trim() === 'report') process.stdout.write(JSON.stringify({ type: 'report', ...stats }) + '\n'); })
  .on('close', exit);
process.on('SIGTERM', exit);
process.on('SIGINT', exit);
