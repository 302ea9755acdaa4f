// Start the real CLI as a child process and talk to it, as an operator would.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import http from 'node:http';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'src', 'cli.ts');
/** tsx's loader by absolute URL, so the CLI can run from any working directory. */
export const TSX = import.meta.resolve('tsx');

export interface LogLine { evt?: string; msg?: string; level?: number; [k: string]: unknown }

export class ProxyProcess {
  readonly logs: LogLine[] = [];
  stderr = '';
  port = 0;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  readonly exited: Promise<void>;
  private waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  constructor(readonly proc: ChildProcess, readonly configPath: string) {
    let buf = '';
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let obj: LogLine;
        try { obj = JSON.parse(line) as LogLine; } catch { obj = { msg: line }; }
        this.logs.push(obj);
        this.waiters = this.waiters.filter((w) => { if (w.pred(obj)) { w.resolve(obj); return false; } return true; });
      }
    });
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
    this.exited = new Promise((res) => proc.once('exit', (code, sig) => { this.exitCode = code; this.exitSignal = sig; res(); }));
  }

  /** Resolve with the first log line (past or future) matching `pred`. */
  waitLog(pred: (l: LogLine) => boolean, timeoutMs = 10000): Promise<LogLine> {
    const found = this.logs.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for log line; stderr: ${this.stderr}\nlogs: ${JSON.stringify(this.logs.slice(-10))}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (l) => { clearTimeout(t); resolve(l); } });
    });
  }

  url(path: string): string { return `http://127.0.0.1:${this.port}${path}`; }

  async stop(): Promise<void> {
    if (this.exitCode !== null || this.exitSignal !== null) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 4000);
    await this.exited;
    clearTimeout(t);
  }
}

export function writeConfig(cfg: unknown, dir = mkdtempSync(join(tmpdir(), 'rs-test-'))): string {
  const p = join(dir, 'restreamer.json');
  writeFileSync(p, JSON.stringify(cfg, null, 2));
  return p;
}

/** Run the CLI with `args`; resolves when it has exited (for --check, bad configs). */
export function runCli(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', TSX, CLI, ...args], { cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`CLI did not exit: ${stderr}`)); }, opts.timeoutMs ?? 15000);
    p.on('exit', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}

/** Start the proxy with `cfg` (listen forced to 127.0.0.1:0) and wait until it listens. */
export async function startProxy(cfg: Record<string, unknown>, opts: { waitStreams?: boolean } = {}): Promise<ProxyProcess> {
  const path = writeConfig({ listen: '127.0.0.1:0', ...cfg });
  const proc = spawn(process.execPath, ['--import', TSX, CLI, path], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const pp = new ProxyProcess(proc, path);
  const l = await pp.waitLog((x) => x.evt === 'listen', 15000);
  pp.port = l.port as number;
  if (opts.waitStreams) await pp.waitLog((x) => x.evt === 'upstream_connect', 15000);
  return pp;
}

/** A streaming HTTP client that keeps everything it receives. */
export class StreamClient {
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  readonly chunks: Buffer[] = [];
  bytes = 0;
  ended = false;
  readonly done: Promise<void>;
  readonly responded: Promise<void>;
  readonly req: http.ClientRequest;
  res: http.IncomingMessage | undefined;

  constructor(url: string, opts: { method?: string; headers?: Record<string, string>; keep?: boolean } = {}) {
    let onResp!: () => void;
    this.responded = new Promise((r) => { onResp = r; });
    let req!: http.ClientRequest;
    this.done = new Promise((resolve) => {
      req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
        this.res = res;
        this.status = res.statusCode ?? 0;
        this.headers = res.headers;
        onResp();
        res.on('data', (d: Buffer) => { this.bytes += d.length; if (opts.keep !== false) this.chunks.push(d); });
        res.on('end', () => { this.ended = true; resolve(); });
        res.on('error', () => resolve());
        res.on('close', () => resolve());
      });
      req.on('error', () => { onResp(); resolve(); });
      req.end();
    });
    this.req = req;
  }

  body(): Buffer { return Buffer.concat(this.chunks); }
  close(): void { this.req.destroy(); }
}

export function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }

export async function until(pred: () => boolean, timeoutMs = 10000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Connect `n` streaming clients to `path`, wait until each has data, send SIGTERM and
 * wait for the exit and for every response to end. Returns how long the exit took, ms.
 */
export async function sigtermUnderLoad(p: ProxyProcess, path: string, n = 20): Promise<number> {
  const clients = Array.from({ length: n }, () => new StreamClient(p.url(path), { keep: false }));
  await Promise.all(clients.map((c) => c.responded));
  await until(() => clients.every((c) => c.bytes > 0), 5000, 'data');
  const t0 = Date.now();
  p.proc.kill('SIGTERM');
  await p.exited;
  const took = Date.now() - t0;
  await Promise.all(clients.map((c) => c.done));
  return took;
}
