import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { redactUrl } from '../log/redact.js';
import { findSourceKind, knownSchemes } from '../sources/registry.js';
import { AUTH_TYPES, STATIC_SCHEMES, authUsers, resourceUpstreams, type AuthenticationConfig, type Config, type ResourceConfig } from './schema.js';
import { didYouMean } from './suggest.js';
import { parseListen } from './listen.js';

// Checks that span several keys or touch the disk, run once the schema accepted the
// file. Each finding names the JSON path of the key to fix.

export interface ConfigIssue {
  /** JSON path of the offending key, e.g. `resources[2].authentication.user`; "" for the whole file. */
  path: string;
  /** What is wrong and what is expected. */
  message: string;
}

export interface CheckResult {
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

/**
 * Cross-key and on-disk checks. Rewrites each `preamble` to its absolute path (resolved
 * against `baseDir`), or to "" when it cannot be read; drops, with a warning, the
 * remotes, resources and notifications the original could never use (so the runtime
 * never sees them); the few refusals are what the original refused or panicked on.
 */
export async function checkConfig(config: Config, baseDir: string, noPassword: ReadonlySet<string> = new Set()): Promise<CheckResult> {
  const c = new Checker(config, baseDir, noPassword);
  // Streams first: which ones exist decides what check/control APIs refer to.
  c.streams();
  c.resources();
  c.duplicates();
  c.hls();
  c.notifications();
  c.globals();
  c.tls();
  return c.finish();
}

/** Sorts issues found in different passes into document order: top-level keys, then resources, then notifications. */
export function byDocumentOrder(a: ConfigIssue, b: ConfigIssue): number {
  const [ga, ia] = position(a.path);
  const [gb, ib] = position(b.path);
  return ga - gb || ia - ib;
}

function position(path: string): [group: number, index: number] {
  const m = /^(resources|notifications)\[(\d+)\]/.exec(path);
  if (!m) return [0, 0];
  return [m[1] === 'resources' ? 1 : 2, Number(m[2])];
}

/** One run of checkConfig: the findings so far and what is to be dropped. */
class Checker {
  private readonly errors: ConfigIssue[] = [];
  private readonly warnings: ConfigIssue[] = [];
  private readonly users: string[];
  private readonly dropResources = new Set<number>();
  private readonly dropNotifications = new Set<number>();
  private readonly preambles: Promise<void>[] = [];

  constructor(private readonly config: Config, private readonly baseDir: string, private readonly noPassword: ReadonlySet<string>) {
    this.users = Object.keys(config.userlist);
  }

  private readonly err = (path: string, message: string): void => { this.errors.push({ path, message }); };
  private readonly warn = (path: string, message: string): void => { this.warnings.push({ path, message }); };

  /** Each stream's upstream URLs: unusable ones are dropped; a stream with none at all is skipped. */
  streams(): void {
    const { config, baseDir, warn } = this;
    config.resources.forEach((r, i) => {
      if (r.type !== 'stream') return;
      const p = `resources[${i}]`;
      if (resourceUpstreams(r).length === 0) {
        // The original: "no URL" for this stream, which it skipped (and served 404 on its path).
        warn(`${p}.remote`, 'stream skipped: no upstream in "remote" or "remotes" (as the original skipped it); set "remote" to a URL such as "http://host/stream.ts"');
        this.dropResources.add(i);
        return;
      }
      if (r.remote !== undefined) {
        const url = checkUpstream(`${p}.remote`, resolveRelativeFile(r.remote, baseDir), warn);
        if (url === undefined) delete r.remote;
        else r.remote = url;
      }
      const remotes: string[] = [];
      r.remotes.forEach((u, j) => {
        const url = checkUpstream(`${p}.remotes[${j}]`, resolveRelativeFile(u, baseDir), warn);
        if (url !== undefined) remotes.push(url);
      });
      r.remotes = remotes;
      if (resourceUpstreams(r).length === 0) {
        warn(`${p}.remote`, 'no usable upstream: the stream stays offline and answers 404 (as the original, whose attempts all failed)');
      }
    });
  }

  /** Every resource kept so far: its users, its path, what it refers to, its preamble. */
  resources(): void {
    const kept = (r: ResourceConfig, i: number) => r.type === 'stream' && !this.dropResources.has(i);
    const streamPaths = [...new Set(this.config.resources.filter(kept).map((r) => r.serve))];
    this.config.resources.forEach((r, i) => {
      if (this.dropResources.has(i)) return;
      const p = `resources[${i}]`;
      this.checkUsers(`${p}.authentication`, r.authentication, 'that user cannot log in', 'lets nobody in');
      checkServe(`${p}.serve`, r.serve, this.warn);
      if (!this.usable(r, p, streamPaths)) {
        this.dropResources.add(i);
        return;
      }
      if (r.preamble !== '') this.preamble(r, p);
    });
  }

  /** False (with a warning) for a static resource without a usable remote, or a check/control API without its stream. */
  private usable(r: ResourceConfig, p: string, streamPaths: string[]): boolean {
    if (r.type === 'static') {
      const why = r.remote === undefined ? 'no "remote"' : staticProblem(r.remote);
      if (why) {
        // The original answered 502 on every request; there is nothing to serve either way.
        this.warn(`${p}.remote`, `static resource skipped (its path answers 404): ${why}; expected a file://, http:// or https:// URL`);
        return false;
      }
      if (r.remotes.length) this.warn(`${p}.remotes`, 'ignored: a static resource fetches only "remote"');
    } else if (r.type === 'api' && (r.api === 'check' || r.api === 'control')) {
      const streams = streamPaths.length ? `stream paths: ${list(streamPaths)}` : 'there are no stream resources';
      if (r.remote === undefined || !streamPaths.includes(r.remote)) {
        const what = r.remote === undefined ? 'no "remote"' : `${JSON.stringify(r.remote)} is not the serve path of a stream resource`;
        // The original logged stream_notfound and did not register the path: it answers 404.
        this.warn(`${p}.remote`, `${r.api} API skipped (its path answers 404): ${what} (${streams})${r.remote === undefined ? '' : didYouMean(r.remote, streamPaths)}`);
        return false;
      }
    }
    return true;
  }

  /** Resolve the preamble file against the config folder and check, in the background, that it can be read. */
  private preamble(r: ResourceConfig, p: string): void {
    const file = resolve(this.baseDir, r.preamble);
    r.preamble = file;
    this.preambles.push(checkReadableFile(file).then((why) => {
      if (!why) return;
      // The original logged preamble_read and served the stream without one.
      this.warn(`${p}.preamble`, `cannot use preamble file ${JSON.stringify(file)}: ${why}; the stream is served without a preamble`);
      r.preamble = '';
    }));
  }

  /** Duplicate paths made the original's http.ServeMux panic at start. */
  duplicates(): void {
    const served = new Map<string, number>();
    this.config.resources.forEach((r, i) => {
      if (this.dropResources.has(i)) return;
      const first = served.get(r.serve);
      if (first !== undefined) this.err(`resources[${i}].serve`, `${JSON.stringify(r.serve)} is already served by resources[${first}]; each serve path must be unique`);
      else served.set(r.serve, i);
    });
  }

  /** An `hls` path must be a stream's, and neither it nor its segments' subtree another resource's path. */
  hls(): void {
    this.config.resources.forEach((r, i) => {
      if (r.hls === undefined || this.dropResources.has(i)) return;
      const p = `resources[${i}].hls`;
      if (r.type !== 'stream') return this.err(p, 'only a stream resource can be served as HLS');
      if (this.config.workers >= 2) return this.err(p, 'hls is not yet supported with workers ≥ 2 (docs/hls.md): set "workers" to 0 or 1');
      this.config.resources.forEach((o, j) => {
        if (this.dropResources.has(j)) return;
        for (const path of j === i ? [] : [o.serve, ...(o.hls === undefined ? [] : [o.hls])]) {
          if (hlsCollides(r.hls!, path)) this.err(p, `${JSON.stringify(r.hls)} collides with ${JSON.stringify(path)} of resources[${j}]: the playlist and its segments (under "${r.hls!}/") need paths of their own`);
        }
      });
      if (r.hls === r.serve) this.err(p, `${JSON.stringify(r.hls)} is this stream's serve path too`);
    });
  }

  notifications(): void {
    this.config.notifications.forEach((n, i) => {
      const p = `notifications[${i}]`;
      this.checkUsers(`${p}.authentication`, n.authentication, 'the request is sent without credentials', 'sends no credentials');
      let scheme = '';
      try {
        scheme = new URL(n.url).protocol;
      } catch { /* reported below */ }
      if (scheme !== 'http:' && scheme !== 'https:') {
        this.warn(`${p}.url`, `notification skipped: ${JSON.stringify(redactUrl(n.url))} is not an http:// or https:// URL (the original failed each time it sent it)`);
        this.dropNotifications.add(i);
      }
    });
  }

  /** Top-level keys that depend on each other or on the notifications. */
  globals(): void {
    const { config } = this;
    const heartbeat = config.notifications.findIndex((n, i) => n.event === 'heartbeat' && !this.dropNotifications.has(i));
    if (config.heartbeatinterval === 0 && heartbeat >= 0) {
      this.err('heartbeatinterval', `0 with a heartbeat notification (notifications[${heartbeat}]): the original panics on it; set the interval in seconds (default 60)`);
    }
    if (config.fullconnections > 0 && config.maxconnections > 0 && config.fullconnections > config.maxconnections) {
      // Allowed (the original accepted it), but the soft limit can never be reached.
      this.warn('fullconnections', `${config.fullconnections} is above maxconnections (${config.maxconnections}): the soft limit is never reached and limit_hit never fires`);
    }
  }

  /**
   * `tls`: its files become absolute paths (relative to the config file, as preamble), so
   * a reload reads the same files whatever the working directory. The pair itself is read
   * and judged where it is used (http/tls.ts: at start, --check, every SIGHUP).
   */
  tls(): void {
    const { config, baseDir } = this;
    if (!config.tls) return;
    config.tls.cert = resolve(baseDir, config.tls.cert);
    config.tls.key = resolve(baseDir, config.tls.key);
    const plain = parseListen(config.listen);
    const https = parseListen(config.tls.listen);
    // One port cannot serve both (the second listen would fail as "address in use").
    const overlap = plain.host === undefined || https.host === undefined || plain.host === https.host;
    if (!config.tls.only && https.port !== 0 && https.port === plain.port && overlap) {
      this.err('tls.listen', `${JSON.stringify(config.tls.listen)} takes the port of "listen" (${JSON.stringify(config.listen)}): HTTPS needs a port of its own, e.g. ":8443" (or set "only": true)`);
    }
  }

  /** Once the preamble checks are done: drop what was skipped, and report in document order. */
  async finish(): Promise<CheckResult> {
    const { config } = this;
    await Promise.all(this.preambles);
    if (!config.resources.some((r, i) => r.type === 'stream' && !this.dropResources.has(i))) {
      // The original exits ("No streams available"); serving only APIs and static files is useful, so this is a warning.
      this.warn('resources', 'no stream resource: only the other resources are served (the original refused to start without a stream)');
    }
    config.resources = config.resources.filter((_, i) => !this.dropResources.has(i));
    config.notifications = config.notifications.filter((_, i) => !this.dropNotifications.has(i));
    // Preamble checks finish in any order: report in document order.
    return { errors: this.errors.sort(byDocumentOrder), warnings: this.warnings.sort(byDocumentOrder) };
  }

  private checkUsers(path: string, auth: AuthenticationConfig | undefined, effect: string, nobody: string): void {
    if (!auth) return;
    const { config, users, noPassword, warn } = this;
    const known = users.length ? `known users: ${list(users)}` : 'userlist is empty';
    const missing = (u: string) => noPassword.has(u)
      ? `user ${JSON.stringify(u)} has no password in userlist; ${effect}`
      : `user ${JSON.stringify(u)} is not in userlist (${known})${didYouMean(u, users)}; ${effect}`;
    if (auth.user !== undefined && !Object.hasOwn(config.userlist, auth.user)) warn(`${path}.user`, missing(auth.user));
    auth.users.forEach((u, j) => {
      if (!Object.hasOwn(config.userlist, u)) warn(`${path}.users[${j}]`, missing(u));
    });
    if (!(AUTH_TYPES as readonly string[]).includes(auth.type)) {
      warn(`${path}.type`, `unknown authentication type ${JSON.stringify(auth.type)} denies every request${didYouMean(auth.type, AUTH_TYPES)}; known types: "basic", "bearer", "token", "" (none)`);
    } else if (auth.type === 'token') {
      if (auth.key === undefined) this.err(`${path}.key`, 'authentication type "token" needs "key": the HMAC key, hex of at least 16 bytes (e.g. from "openssl rand -hex 32")');
    } else if (auth.type !== '' && authUsers(auth).filter((u) => Object.hasOwn(config.userlist, u)).length === 0) {
      warn(`${path}.users`, `authentication type "${auth.type}" with no user from userlist ${nobody}`);
    }
  }
}

function list(names: readonly string[]): string {
  const shown = names.slice(0, 10).join(', ');
  return names.length > 10 ? `${shown}, ... (${names.length} in all)` : shown;
}

/**
 * `file:demo.ts?loop` (no slash after the colon) names a file relative to the config
 * file's folder (a restreamer addition, so shipped configs can point at files beside
 * them). Anything else is returned unchanged.
 */
function resolveRelativeFile(url: string, baseDir: string): string {
  const m = /^file:(?!\/)([^?#]*)(.*)$/i.exec(url);
  if (!m || m[1] === '') return url;
  let name: string;
  try {
    name = decodeURIComponent(m[1]!);
  } catch {
    return url; // a malformed %-escape: left as written, reported as an invalid URL
  }
  return pathToFileURL(resolve(baseDir, name)).href + (m[2] ?? '');
}

/**
 * An upstream URL must parse, use a registered scheme and pass that kind's own check.
 * Returns the URL, or undefined (with a warning) when it can never work: the original
 * kept such a remote and failed each time it tried it, so it is dropped here instead.
 */
function checkUpstream(path: string, url: string, warn: (p: string, m: string) => void): string | undefined {
  const drop = (why: string): void => {
    warn(path, `${why}; this remote is ignored (the original failed each time it tried it)`);
  };
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    drop(`${JSON.stringify(redactUrl(url))} is not a valid URL; expected something like "http://host:port/stream.ts"`);
    return undefined;
  }
  const scheme = u.protocol.replace(/:$/, '');
  const kind = findSourceKind(scheme);
  if (!kind) {
    const known = knownSchemes();
    drop(`unknown upstream scheme "${scheme}" in ${JSON.stringify(redactUrl(url))}${didYouMean(scheme, known)}; known schemes: ${known.length ? known.join(', ') : '(none registered)'}`);
    return undefined;
  }
  let why: string | undefined;
  try {
    why = kind.validate?.(u);
  } catch (e) {
    why = e instanceof Error ? e.message : String(e);
  }
  if (why) {
    drop(`invalid ${scheme} upstream ${JSON.stringify(redactUrl(url))}: ${why}`);
    return undefined;
  }
  return url;
}

/** Why a static resource cannot fetch `url`, or undefined. */
function staticProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `${JSON.stringify(redactUrl(url))} is not a valid URL`;
  }
  const scheme = u.protocol.replace(/:$/, '');
  return (STATIC_SCHEMES as readonly string[]).includes(scheme) ? undefined : `it cannot fetch from "${scheme}" URLs`;
}

/**
 * Go's http.ServeMux (as the original runs it, Go 1.21 rules): a pattern starting with
 * "/" is a path, one with a "/" later begins with a host name ("localhost/health"), and
 * one without any "/" is registered but can never match a request.
 */
function checkServe(path: string, serve: string, warn: (p: string, m: string) => void): void {
  if (serve.includes('/')) return;
  warn(path, `${JSON.stringify(serve)} never matches a request: a path starts with "/" (did you mean ${JSON.stringify(`/${serve}`)}?); the original registered it and answered 404`);
}

/** Why `file` cannot be used as a preamble, or undefined when it is a readable regular file. */
async function checkReadableFile(file: string): Promise<string | undefined> {
  try {
    await access(file, constants.R_OK);
    const s = await stat(file);
    return s.isFile() ? undefined : 'not a regular file';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EACCES') return 'permission denied';
    return (e as Error).message;
  }
}

/**
 * `path` takes requests meant for the playlist `hls` or its segments (under "<hls>/"): the
 * same path, or one inside the segments' subtree. A subtree around them ("/", "/live/")
 * does not: the longest pattern wins (servemux.ts).
 */
function hlsCollides(hls: string, path: string): boolean {
  return path === hls || path.startsWith(`${hls}/`);
}
