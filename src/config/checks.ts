import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { findSourceKind, knownSchemes } from '../sources/registry.js';
import { AUTH_TYPES, STATIC_SCHEMES, authUsers, resourceUpstreams, type AuthenticationConfig, type Config } from './schema.js';
import { didYouMean } from './suggest.js';

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
 * Cross-key and on-disk checks. Rewrites each non-empty `preamble` to its absolute path
 * (resolved against `baseDir`) in place.
 */
export async function checkConfig(config: Config, baseDir: string): Promise<CheckResult> {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const err = (path: string, message: string) => errors.push({ path, message });
  const warn = (path: string, message: string) => warnings.push({ path, message });
  const users = Object.keys(config.userlist);

  const checkUsers = (path: string, auth: AuthenticationConfig | undefined) => {
    if (!auth) return;
    const known = users.length ? `known users: ${list(users)}` : 'userlist is empty';
    const missing = (u: string) => `user ${JSON.stringify(u)} is not in userlist (${known})${didYouMean(u, users)}`;
    if (auth.user !== undefined && !Object.hasOwn(config.userlist, auth.user)) err(`${path}.user`, missing(auth.user));
    auth.users.forEach((u, j) => {
      if (!Object.hasOwn(config.userlist, u)) err(`${path}.users[${j}]`, missing(u));
    });
    if (!(AUTH_TYPES as readonly string[]).includes(auth.type)) {
      warn(`${path}.type`, `unknown authentication type ${JSON.stringify(auth.type)} denies every request${didYouMean(auth.type, AUTH_TYPES)}; known types: "basic", "bearer", "" (none)`);
    } else if (auth.type !== '' && authUsers(auth).length === 0) {
      warn(`${path}.users`, `authentication type "${auth.type}" with no users lets nobody in`);
    }
  };

  const streamPaths = [...new Set(config.resources.filter((r) => r.type === 'stream').map((r) => r.serve))];
  const staticSchemes = 'a file://, http:// or https:// URL';
  const served = new Map<string, number>();
  const preambles: Promise<void>[] = [];

  config.resources.forEach((r, i) => {
    const p = `resources[${i}]`;
    const first = served.get(r.serve);
    if (first !== undefined) err(`${p}.serve`, `${JSON.stringify(r.serve)} is already served by resources[${first}]; each serve path must be unique`);
    else served.set(r.serve, i);
    checkUsers(`${p}.authentication`, r.authentication);

    if (r.type === 'stream') {
      if (r.remote !== undefined) r.remote = resolveRelativeFile(r.remote, baseDir);
      r.remotes = r.remotes.map((u) => resolveRelativeFile(u, baseDir));
      if (resourceUpstreams(r).length === 0) {
        err(`${p}.remote`, 'a stream needs an upstream: set "remote" (or "remotes") to a URL such as "http://host/stream.ts"');
      }
      if (r.remote !== undefined) checkUpstream(`${p}.remote`, r.remote, err);
      r.remotes.forEach((u, j) => checkUpstream(`${p}.remotes[${j}]`, u, err));
    } else if (r.type === 'static') {
      if (r.remote === undefined || r.remote === '') {
        err(`${p}.remote`, `missing: a static resource needs "remote", ${staticSchemes}`);
      } else {
        checkStatic(`${p}.remote`, r.remote, staticSchemes, err);
      }
      if (r.remotes.length) warn(`${p}.remotes`, 'ignored: a static resource fetches only "remote"');
    } else if (r.api === undefined) {
      err(`${p}.api`, 'missing: a resource of type "api" needs "api": one of "health", "statistics", "check", "control", "prometheus"');
    } else if (r.api === 'check' || r.api === 'control') {
      const streams = streamPaths.length ? `stream paths: ${list(streamPaths)}` : 'there are no stream resources';
      if (r.remote === undefined || r.remote === '') {
        err(`${p}.remote`, `missing: a ${r.api} API names the serve path of a stream resource in "remote" (${streams})`);
      } else if (!streamPaths.includes(r.remote)) {
        err(`${p}.remote`, `${JSON.stringify(r.remote)} is not the serve path of a stream resource (${streams})${didYouMean(r.remote, streamPaths)}`);
      }
    }

    if (r.preamble !== '') {
      const file = resolve(baseDir, r.preamble);
      r.preamble = file;
      preambles.push(checkReadableFile(file).then((why) => {
        if (why) err(`${p}.preamble`, `cannot use preamble file ${JSON.stringify(file)}: ${why}; expected a readable regular file`);
      }));
    }
  });

  config.notifications.forEach((n, i) => {
    const p = `notifications[${i}]`;
    checkUsers(`${p}.authentication`, n.authentication);
    let scheme = '';
    try {
      scheme = new URL(n.url).protocol;
    } catch { /* reported below */ }
    if (scheme !== 'http:' && scheme !== 'https:') {
      err(`${p}.url`, `${JSON.stringify(n.url)} is not an http:// or https:// URL`);
    }
  });

  if (config.fullconnections > 0 && config.maxconnections > 0 && config.fullconnections > config.maxconnections) {
    // Allowed (the original accepted it), but the soft limit can never be reached.
    warn('fullconnections', `${config.fullconnections} is above maxconnections (${config.maxconnections}): the soft limit is never reached and limit_hit never fires`);
  }

  await Promise.all(preambles);
  // Preamble checks finish in any order: report in document order.
  errors.sort((a, b) => order(a.path) - order(b.path));
  return { errors, warnings };
}

function order(path: string): number {
  const m = /^(resources|notifications)\[(\d+)\]/.exec(path);
  if (!m) return -1;
  return (m[1] === 'resources' ? 0 : 1e6) + Number(m[2]);
}

function list(names: readonly string[]): string {
  const shown = names.slice(0, 10).join(', ');
  return names.length > 10 ? `${shown}, ... (${names.length} in all)` : shown;
}

function parseUrl(path: string, url: string, err: (p: string, m: string) => void, example: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    err(path, `${JSON.stringify(url)} is not a valid URL; expected something like ${JSON.stringify(example)}`);
    return undefined;
  }
}

/**
 * `file:demo.ts?loop` (no slash after the colon) names a file relative to the config
 * file's folder (a restreamer addition, so shipped configs can point at files beside
 * them). Anything else is returned unchanged.
 */
export function resolveRelativeFile(url: string, baseDir: string): string {
  const m = /^file:(?!\/)([^?#]*)(.*)$/i.exec(url);
  if (!m || m[1] === '') return url;
  return pathToFileURL(resolve(baseDir, decodeURIComponent(m[1]!))).href + m[2];
}

/** An upstream URL must parse, use a registered scheme and pass that kind's own check. */
function checkUpstream(path: string, url: string, err: (p: string, m: string) => void): void {
  const u = parseUrl(path, url, err, 'http://host:port/stream.ts');
  if (!u) return;
  const scheme = u.protocol.replace(/:$/, '');
  const kind = findSourceKind(scheme);
  if (!kind) {
    const known = knownSchemes();
    err(path, `unknown upstream scheme "${scheme}" in ${JSON.stringify(url)}${didYouMean(scheme, known)}; known schemes: ${known.length ? known.join(', ') : '(none registered)'}`);
    return;
  }
  let why: string | undefined;
  try {
    why = kind.validate?.(u);
  } catch (e) {
    why = e instanceof Error ? e.message : String(e);
  }
  if (why) err(path, `invalid ${scheme} upstream ${JSON.stringify(url)}: ${why}`);
}

function checkStatic(path: string, url: string, expected: string, err: (p: string, m: string) => void): void {
  const u = parseUrl(path, url, err, 'https://host/file.html');
  if (!u) return;
  const scheme = u.protocol.replace(/:$/, '');
  if (!(STATIC_SCHEMES as readonly string[]).includes(scheme)) {
    err(path, `a static resource cannot fetch from "${scheme}" URLs; expected ${expected}`);
  }
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
