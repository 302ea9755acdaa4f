// Start the real CLI as a child process and talk to it, as an operator would.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import http from 'node:http';
import { until } from './wait.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'src', 'cli.ts');
/** tsx's loader by absolute URL, so the CLI can run from any working directory. */
export const TSX = import.meta.resolve('tsx');

export interface LogLine { evt?: string; msg?: string; level?: number; [k: string]: unknown }

/** How long a proxy may take to start listening (a bound, generous for a loaded machine). */
export const START_TIMEOUT_MS = 30000;

// Whatever a test file started and did not stop is stopped when the file's process exits
// (a failed assertion, a timeout, --test-force-exit): proxies are killed, temp folders
// removed. Synchronous, as 'exit' handlers must be.
const live = new Set<ProxyProcess>();
const tempDirs = new Set<string>();
let exitHook = false;
function onExit(): void {
  for (const p of live) { try { p.proc.kill('SIGKILL'); } catch { /* gone */ } }
  for (const d of tempDirs) { try { rmSync(d, { recursive: true, force: true }); } catch { /* busy */ } }
}
function hookExit(): void {
  if (!exitHook) { exitHook = true; process.on('exit', onExit); }
}

/**
 * A fresh folder in the temporary directory, removed by `removeTempDir` or at the latest
 * when the test process exits.
 */
export function tempDir(prefix = 'rs-test-'): string {
  hookExit();
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

export function removeTempDir(dir: string): void {
  tempDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

export class ProxyProcess {
  readonly logs: LogLine[] = [];
  stderr = '';
  port = 0;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  readonly exited: Promise<void>;
  private waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void; reject: (e: Error) => void }[] = [];
  private outputClosed = false;

  /** `ownDir`: a folder (the config's) removed when the proxy is stopped. */
  constructor(readonly proc: ChildProcess, readonly configPath: string, private readonly ownDir?: string) {
    hookExit();
    live.add(this);
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
    this.exited = new Promise((res) => proc.once('exit', (code, sig) => { this.exitCode = code; this.exitSignal = sig; live.delete(this); res(); }));
    // Once the process has exited and its output is read to the end, no line can come:
    // whoever still waits for one learns it now, with the reason, instead of at a timeout.
    proc.once('close', () => {
      this.outputClosed = true;
      for (const w of this.waiters.splice(0)) w.reject(this.exitError('exited'));
    });
  }

  private exitError(what: string): Error {
    return new Error(`proxy ${what} (exit ${this.exitCode ?? this.exitSignal ?? 'pending'}); stderr: ${this.stderr}\nlogs: ${JSON.stringify(this.logs.slice(-10))}`);
  }

  /** Resolve with the first log line (past or future) matching `pred`. */
  waitLog(pred: (l: LogLine) => boolean, timeoutMs = 10000): Promise<LogLine> {
    const found = this.logs.find(pred);
    if (found) return Promise.resolve(found);
    if (this.outputClosed) return Promise.reject(this.exitError('exited before the log line'));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.waiters = this.waiters.filter((w) => w.resolve !== done); reject(this.exitError(`timed out waiting for a log line after ${timeoutMs} ms`)); }, timeoutMs);
      const done = (l: LogLine): void => { clearTimeout(t); resolve(l); };
      this.waiters.push({ pred, resolve: done, reject: (e) => { clearTimeout(t); reject(e); } });
    });
  }

  url(path: string): string { return `http://127.0.0.1:${this.port}${path}`; }

  /** SIGTERM, SIGKILL if it has not exited 4 s later; then remove its folder. Idempotent. */
  async stop(): Promise<void> {
    if (this.exitCode === null && this.exitSignal === null) {
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 4000);
      await this.exited;
      clearTimeout(t);
    }
    if (this.ownDir) removeTempDir(this.ownDir);
  }
}

export function writeConfig(cfg: unknown, dir = tempDir()): string {
  const p = join(dir, 'restreamer.json');
  writeFileSync(p, JSON.stringify(cfg, null, 2));
  return p;
}

/** Run the CLI with `args`; resolves when it has exited (for --check, bad configs). */
export function runCli(args: string[], opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', TSX, CLI, ...args], { cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer | string) => { stdout += String(d); });
    p.stderr.on('data', (d: Buffer | string) => { stderr += String(d); });
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`CLI did not exit: ${stderr}`)); }, opts.timeoutMs ?? 30000);
    p.on('close', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}

/**
 * Start the proxy with `cfg` (listen forced to 127.0.0.1:0) and wait until it listens.
 * When it does not (it exits, or the bound passes), it is killed, its folder removed, and
 * the error says why: a failed start leaves nothing behind.
 */
export async function startProxy(cfg: Record<string, unknown>, opts: { waitStreams?: boolean; args?: string[]; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ProxyProcess> {
  const dir = tempDir();
  const path = writeConfig({ listen: '127.0.0.1:0', ...cfg }, dir);
  const proc = spawn(process.execPath, ['--import', TSX, CLI, ...(opts.args ?? []), path], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  const pp = new ProxyProcess(proc, path, dir);
  try {
    const l = await pp.waitLog((x) => x.evt === 'listen', opts.timeoutMs ?? START_TIMEOUT_MS);
    pp.port = l.port as number;
    if (opts.waitStreams) await pp.waitLog((x) => x.evt === 'upstream_connect', opts.timeoutMs ?? START_TIMEOUT_MS);
  } catch (err) {
    await pp.stop();
    throw err;
  }
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

/**
 * A viewer of `url` once the stream serves (200): a stream answers 404 until its first
 * packet, so this asks again every 100 ms, at most `timeoutMs`. Every client it made is
 * passed to `track` (for the caller's cleanup); the refused ones are already closed.
 * `client`: the viewer's request headers and whether it keeps the body (not by default).
 */
export async function servedViewer(url: string, track: (c: StreamClient) => void = () => {}, timeoutMs = 10000,
  client: { headers?: Record<string, string>; keep?: boolean } = { keep: false }): Promise<StreamClient> {
  let served: StreamClient | undefined;
  await until(async () => {
    const c = new StreamClient(url, client);
    track(c);
    await c.responded;
    if (c.status === 200) served = c;
    else c.close();
    return served !== undefined;
  }, timeoutMs, `${url} to answer 200`, 100);
  return served!;
}
