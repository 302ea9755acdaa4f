import { spawn, type ChildProcess } from 'node:child_process';
import { RestreamerError } from '../../errors.js';
import { EVT, type Logger } from '../../log/logger.js';
import { UpstreamBase } from '../base.js';
import type { DataSink, NoOptions, SourceContext, SourceKind } from '../source.js';

// fork:///path/to/exe?arg1+arg2 and fork://cmd?arg1+arg2 (cmd looked up on PATH; the
// original only worked in this form). No shell: the command is executed directly.
//
// Arguments, two forms:
// - '+' form (the original's): the query is split on '+' and each piece is
//   percent-decoded; empty pieces are skipped. `fork://ffmpeg?-i+in%20file.ts` gives
//   ["-i", "in file.ts"]; a literal '+' is written %2B.
// - arg= form: as soon as any '&'-separated parameter is named `arg`, the query is read as
//   key=value pairs, every key must be `arg`, and the values are the arguments in order,
//   percent-decoded ('+' stays a literal plus, a space is %20, empty values are kept):
//   `fork:///usr/bin/ffmpeg?arg=-i&arg=/in%20dir/a+b.ts` gives ["-i", "/in dir/a+b.ts"].
// A '#' must be written %23 in both forms (it would start the URL's fragment).
//
// Standard output is the stream; standard error is logged line by line (rate-limited);
// the child is stopped with SIGTERM, then SIGKILL after a grace period, on close().

/** Time a child gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 2000;
/** Standard-error lines logged per second per child; the rest are counted and summarised. */
const STDERR_LINES_PER_S = 20;
/** A standard-error "line" longer than this is logged in pieces (bounded memory). */
const MAX_LINE = 4096;

export interface ForkCommand { command: string; args: string[] }

/** The command and arguments of a fork URL; throws an Error with a message for people. */
export function parseForkUrl(url: URL): ForkCommand {
  let command: string;
  try {
    const path = url.pathname === '/' ? '' : decodeURIComponent(url.pathname);
    command = url.host ? decodeURIComponent(url.host) + path : path;
  } catch {
    throw new Error('the command contains an invalid %-escape');
  }
  if (!command) throw new Error('no command: write fork:///path/to/exe?arg1+arg2 or fork://cmd?arg1+arg2');
  const raw = url.search.slice(1);
  const pieces = raw ? raw.split('&') : [];
  const kv = pieces.some((p) => p === 'arg' || p.startsWith('arg='));
  const args: string[] = [];
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new Error(`argument "${s}" contains an invalid %-escape (write a literal % as %25)`);
    }
  };
  if (kv) {
    for (const p of pieces) {
      const eq = p.indexOf('=');
      const key = eq < 0 ? p : p.slice(0, eq);
      if (key !== 'arg') {
        throw new Error(`parameter "${key}": when arguments are given as arg=..., every query parameter must be arg (got "${p}")`);
      }
      args.push(eq < 0 ? '' : decode(p.slice(eq + 1)));
    }
  } else {
    for (const p of raw.split('+')) if (p) args.push(decode(p));
  }
  return { command, args };
}

// Children still running, killed synchronously if the proxy exits before they are
// reaped (an 'exit' handler cannot wait for SIGTERM to work). Process-wide by nature;
// the handler is installed on the first spawn, never at import time.
// Each child leads its own process group (spawned detached, i.e. setsid), so a signal to
// the group also reaches what it started itself: `sh -c "ffmpeg ..."`, wrapper scripts.
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  liveChildren.add(child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of liveChildren) signalGroup(c, 'SIGKILL');
  });
}

/** Signal the child's whole process group (it and its descendants), if any is left. */
function signalGroup(c: ChildProcess, sig: NodeJS.Signals): void {
  if (c.pid === undefined) return;
  try { process.kill(-c.pid, sig); } catch { /* the whole group is gone */ }
}

/** Logs standard-error lines, at most `perSecond` a second; the rest are counted. */
class StderrLog {
  private partial = '';
  private windowStart = 0;
  private inWindow = 0;
  lines = 0;
  suppressed = 0;
  private pendingSuppressed = 0;

  constructor(private readonly log: Logger, private readonly perSecond = STDERR_LINES_PER_S, private readonly now: () => number = Date.now) {}

  write(text: string): void {
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || c === 13) {
        this.line(this.partial + text.slice(start, i));
        this.partial = '';
        start = i + 1;
      }
    }
    this.partial += text.slice(start);
    while (this.partial.length > MAX_LINE) {
      this.line(this.partial.slice(0, MAX_LINE));
      this.partial = this.partial.slice(MAX_LINE);
    }
  }

  /** Log an unterminated last line and any suppressed count. */
  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
    this.summarise();
  }

  private line(l: string): void {
    if (!l) return;
    this.lines++;
    const t = this.now();
    if (t - this.windowStart >= 1000) {
      this.summarise();
      this.windowStart = t;
      this.inWindow = 0;
    }
    if (this.inWindow < this.perSecond) {
      this.inWindow++;
      this.log.info({ evt: EVT.upstreamStderr, line: l }, 'upstream stderr');
    } else {
      this.suppressed++;
      this.pendingSuppressed++;
    }
  }

  private summarise(): void {
    if (this.pendingSuppressed === 0) return;
    this.log.warn({ evt: EVT.upstreamStderr, suppressed: this.pendingSuppressed, limitPerS: this.perSecond }, 'upstream stderr lines not logged (rate limit)');
    this.pendingSuppressed = 0;
  }
}

export interface ForkStats {
  pid: number | undefined;
  bytes: number;
  stderrLines: number;
  stderrSuppressed: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

export class ForkUpstream extends UpstreamBase {
  readonly stats: ForkStats = { pid: undefined, bytes: 0, stderrLines: 0, stderrSuppressed: 0, exitCode: null, signal: null };
  private readonly child: ChildProcess | undefined;
  private readonly stderr: StderrLog;
  private killTimer: NodeJS.Timeout | undefined;
  private spawned = false;
  private hasData = false;

  constructor(private readonly log: Logger, private readonly cmd: ForkCommand, onData: DataSink, private readonly graceMs = KILL_GRACE_MS) {
    super();
    this.stderr = new StderrLog(log);
    let child: ChildProcess;
    try {
      child = spawn(cmd.command, cmd.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, windowsHide: true });
    } catch (e) {
      this.finish(this.spawnError(e as NodeJS.ErrnoException));
      return;
    }
    this.child = child;
    // pid is set synchronously when the exec worked; from here on the child must be reaped.
    if (child.pid !== undefined) track(child);
    child.on('spawn', () => {
      this.spawned = true;
      this.stats.pid = child.pid;
      log.info({ evt: EVT.upstreamInfo, pid: child.pid, command: cmd.command, args: cmd.args }, 'upstream command started');
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (!this.spawned) this.finish(this.spawnError(e));
      else log.warn({ evt: EVT.warning, pid: child.pid, err: e.message }, 'upstream command error');
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      // After close() the child may still write while it exits: keep reading, discard.
      if (this.isDone) return;
      this.stats.bytes += chunk.length;
      if (!this.hasData) { this.hasData = true; this.markConnected(); }
      onData(chunk);
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      this.stderr.write(text);
      this.stats.stderrLines = this.stderr.lines;
      this.stats.stderrSuppressed = this.stderr.suppressed;
    });
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
    // 'close' comes after stdout has been read to its end: no data is lost before finish().
    child.on('close', () => this.onClose());
  }

  private spawnError(e: NodeJS.ErrnoException): RestreamerError {
    const c = this.cmd.command;
    const why = e.code === 'ENOENT' ? `command not found: ${c}${c.includes('/') ? '' : ' (looked up on PATH)'}`
      : e.code === 'EACCES' ? `command not executable (permission denied): ${c}`
        : `cannot start ${c}: ${e.message}`;
    return new RestreamerError('UPSTREAM_SPAWN', `fork: ${why}`, { cause: e });
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    liveChildren.delete(child);
    // What the command left running (a shell's background job, an encoder its wrapper
    // started) would keep stdout open and the stream half-alive: end it with its parent.
    signalGroup(child, 'SIGKILL');
    if (this.killTimer) clearTimeout(this.killTimer);
    this.killTimer = undefined;
    this.stats.exitCode = code;
    this.stats.signal = signal;
    this.log.info({ evt: EVT.upstreamChildExit, pid: child.pid, code, signal, closing: this.isDone }, signal ? `upstream command killed by ${signal}` : `upstream command exited with code ${code}`);
  }

  private onClose(): void {
    this.stderr.end();
    this.stats.stderrLines = this.stderr.lines;
    this.stats.stderrSuppressed = this.stderr.suppressed;
    if (!this.spawned) return; // spawn failure: 'error' has finished it
    const { exitCode: code, signal } = this.stats;
    if (code === 0 && this.hasData) { this.finish(); return; }
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    this.finish(new RestreamerError('UPSTREAM_CHILD_EXIT', `fork: ${this.cmd.command} ${how}${this.hasData ? '' : ' before writing any data'}`));
  }

  protected teardown(): void {
    const c = this.child;
    if (c?.pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
    signalGroup(c, 'SIGTERM');
    this.killTimer = setTimeout(() => {
      this.killTimer = undefined;
      if (c.exitCode === null && c.signalCode === null) {
        this.log.warn({ evt: EVT.upstreamInfo, pid: c.pid, graceMs: this.graceMs }, 'upstream command ignored SIGTERM: sending SIGKILL');
        signalGroup(c, 'SIGKILL');
      }
    }, this.graceMs);
    // The child's pipes keep the loop alive until it exits; the exit hook covers the rest.
    this.killTimer.unref();
  }
}

export const forkKind: SourceKind<NoOptions> = {
  schemes: ['fork'],
  validate(url) {
    try {
      parseForkUrl(url);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  },
  open(ctx: SourceContext<NoOptions>, onData: DataSink) {
    return new ForkUpstream(ctx.log, parseForkUrl(ctx.url), onData);
  },
};
