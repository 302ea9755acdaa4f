// Child processes of the benchmark: JSON-line stdout, line commands on stdin, and one
// registry so that every child dies with the bench (normal end, error, SIGINT/SIGTERM).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type { Netns } from '../../test/helpers/netns.js';

const live = new Set<ChildProcess>();

export function killAll(): void {
  for (const c of live) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
  live.clear();
}
process.on('exit', killAll);

export interface Line { type?: string; evt?: string; [k: string]: unknown }

/** A child whose stdout is JSON lines; `next(pred)` waits for a matching line. */
export class Child {
  readonly lines: Line[] = [];
  stderr = '';
  exited = false;
  readonly exit: Promise<number | null>;
  private waiters: { pred: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  /** Keep only lines matching this (the proxy logs a line per client). */
  keep: (l: Line) => boolean = () => true;
  readonly evtCounts = new Map<string, number>();

  constructor(readonly name: string, readonly proc: ChildProcess) {
    live.add(proc);
    let buf = '';
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const s = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let l: Line;
        try { l = JSON.parse(s) as Line; } catch { l = { type: 'text', text: s }; }
        if (l.evt) this.evtCounts.set(l.evt, (this.evtCounts.get(l.evt) ?? 0) + 1);
        this.waiters = this.waiters.filter((w) => { if (w.pred(l)) { w.resolve(l); return false; } return true; });
        if (this.keep(l)) this.lines.push(l);
      }
    });
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => { if (this.stderr.length < 20000) this.stderr += d; });
    this.exit = new Promise((res) => proc.once('exit', (code) => { this.exited = true; live.delete(proc); res(code); }));
  }

  get pid(): number { return this.proc.pid ?? -1; }

  next(pred: (l: Line) => boolean, timeoutMs: number, what: string): Promise<Line> {
    const found = this.lines.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}; stderr: ${this.stderr.slice(-2000)}`)), timeoutMs);
      this.exit.then((code) => { clearTimeout(t); reject(new Error(`${this.name} exited (${code}) while waiting for ${what}; stderr: ${this.stderr.slice(-2000)}`)); }, () => {});
      this.waiters.push({ pred, resolve: (l) => { clearTimeout(t); resolve(l); } });
    });
  }

  send(line: string): void { if (!this.exited) this.proc.stdin?.write(line + '\n'); }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exited) return;
    this.proc.stdin?.end();
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exit;
    clearTimeout(t);
  }
}

/** Start `cmd args` (inside `ns` when given) with piped stdio. */
export function start(name: string, cmd: string, args: string[], ns?: Netns, opts: SpawnOptions = {}): Child {
  const o: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe'], ...opts };
  const proc = ns ? ns.spawn(cmd, args, o) : spawn(cmd, args, o);
  proc.stdin?.on('error', () => { /* child gone */ });
  return new Child(name, proc);
}

export function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }
