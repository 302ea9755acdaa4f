// Real upstreams for integration tests: a paced HTTP server we control, ffmpeg as a real
// encoder/server, and a fixture transport stream made by ffmpeg.
import http from 'node:http';
import net from 'node:net';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PKT } from './packets.js';
import { until } from './wait.js';

/**
 * Where fixtures made by ffmpeg are kept between runs: RESTREAMER_FIXTURES (npm test sets
 * it, see test/run.ts), else a folder in the temporary directory.
 */
function fixtureDir(): string {
  const dir = process.env.RESTREAMER_FIXTURES ?? join(tmpdir(), 'restreamer-fixtures');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * A small H.264 + AAC transport stream (4 s, 2 s GOP), made once per fixture folder.
 * Test files run in parallel and may both find it missing: each writes its own uniquely
 * named temporary file and renames it into place (atomic), so no file ever sees a
 * half-written fixture and no two writers share a file.
 */
export function fixtureTs(): string {
  const p = join(fixtureDir(), 'h264-aac-4s-gop2.mpegts');
  if (!existsSync(p)) {
    const tmp = `${p}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    try {
      execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-nostdin',
        '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25',
        '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
        '-t', '4', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '50', '-keyint_min', '50', '-sc_threshold', '0',
        '-b:v', '400k', '-c:a', 'aac', '-b:a', '64k', '-f', 'mpegts', tmp], { timeout: 60000, stdio: ['ignore', 'ignore', 'pipe'] });
      renameSync(tmp, p);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  return p;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/**
 * Wait until something listens on TCP `port` (IPv4 or IPv6), read from /proc/net without
 * connecting: a server that takes one client only (ffmpeg -listen 1) keeps it for the test.
 */
export async function waitListening(port: number, timeoutMs = 15000): Promise<void> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const re = new RegExp(`^\\s*\\d+: [0-9A-F]+:${hex} [0-9A-F]+:0000 0A `, 'm');
  const tables = () => ['/proc/net/tcp', '/proc/net/tcp6'].map((f) => { try { return readFileSync(f, 'utf8'); } catch { return ''; } });
  await until(() => tables().some((t) => re.test(t)), timeoutMs, `a listener on port ${port}`);
}

/**
 * HTTP upstream that sends `data` in a loop at `bytesPerSec`, in 10 ms slices (real
 * time, like a live encoder). `mode` switches it to answering 404.
 */
export class PacedServer {
  server: http.Server | undefined;
  port = 0;
  mode: 'stream' | '404' = 'stream';
  requests = 0;
  /**
   * Packets left out while the connection stays up (a broken encoder): those for which
   * it answers true, given their PID and the time since the connection began, ms.
   */
  drop: ((pid: number, ms: number) => boolean) | undefined;
  private readonly conns = new Set<http.ServerResponse>();
  private timers = new Set<NodeJS.Timeout>();

  constructor(readonly data: Buffer, readonly bytesPerSec: number) {}

  async start(port = 0): Promise<number> {
    this.server = http.createServer((req, res) => {
      this.requests++;
      if (this.mode === '404') { res.writeHead(404).end('nope'); return; }
      res.writeHead(200, { 'Content-Type': 'video/mp2t' });
      this.conns.add(res);
      // Whole packets, with continuity counters rewritten so the loop point is seamless
      // (a live encoder never jumps back), so clients can check continuity exactly.
      const npk = Math.floor(this.data.length / PKT);
      const perTick = Math.max(1, Math.round(this.bytesPerSec / 100 / PKT));
      const cc = new Uint8Array(8192);
      let pk = 0;
      const began = Date.now();
      const t = setInterval(() => {
        const out = Buffer.allocUnsafe(perTick * PKT);
        const ms = Date.now() - began;
        let n = 0;
        for (let i = 0; i < perTick; i++, pk = (pk + 1) % npk) {
          const src = pk * PKT;
          const pid = ((this.data[src + 1]! & 0x1f) << 8) | this.data[src + 2]!;
          // A dropped packet still takes its counter, as a packet lost on the way does.
          const payload = pid !== 0x1fff && (this.data[src + 3]! & 0x10) !== 0;
          const c = cc[pid]!;
          if (payload) cc[pid] = (c + 1) & 0x0f;
          if (this.drop?.(pid, ms)) continue;
          const o = n++ * PKT;
          this.data.copy(out, o, src, src + PKT);
          if (payload) out[o + 3] = (out[o + 3]! & 0xf0) | c;
        }
        res.write(out.subarray(0, n * PKT));
      }, 10);
      this.timers.add(t);
      res.on('close', () => { clearInterval(t); this.timers.delete(t); this.conns.delete(res); });
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Upstream connections open right now. */
  get active(): number { return this.conns.size; }

  url(path = '/live.ts'): string { return `http://127.0.0.1:${this.port}${path}`; }

  /** Kill the upstream: drop every connection and stop listening. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers.clear();
    for (const r of this.conns) r.destroy();
    this.conns.clear();
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((r) => this.server!.close(() => r()));
      this.server = undefined;
    }
  }
}

/** Bytes per second of a TS file, from its duration as ffprobe reports it. */
export function tsByteRate(path: string): number {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path], { timeout: 20000 }).toString();
  return Math.round(readFileSync(path).length / parseFloat(out));
}

/** ffmpeg serving `file` in real time, looping, over HTTP (one client), as a live encoder would. */
export function ffmpegHttpServer(file: string, port: number): ChildProcess {
  return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', file,
    '-c', 'copy', '-f', 'mpegts', '-listen', '1', `http://127.0.0.1:${port}/live.ts`], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** ffprobe's view of a stream: codec names per stream, in order. */
export function probeCodecs(input: string, extra: string[] = []): string[] {
  const out = execFileSync('ffprobe', ['-v', 'error', ...extra, '-show_streams', '-of', 'json', input], { timeout: 20000 }).toString();
  const j = JSON.parse(out) as { streams: { codec_name: string }[] };
  return j.streams.map((s) => s.codec_name).sort();
}

/** The fixture served in real time by a PacedServer, started. */
export async function startFixtureServer(bytesPerSec?: number): Promise<PacedServer> {
  const f = fixtureTs();
  const s = new PacedServer(readFileSync(f), bytesPerSec ?? tsByteRate(f));
  await s.start();
  return s;
}
