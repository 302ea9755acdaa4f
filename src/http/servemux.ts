// Request routing with the semantics of Go's http.ServeMux (the pattern syntax before Go
// 1.22, which the original restreamer was built with), so every `serve` an existing
// restreamer.json uses routes as it did there. Written from Go's documented rules:
// - a pattern ending in "/" names a subtree; the longest matching pattern wins, and an
//   exact registration of the request path always beats a subtree;
// - a pattern not starting with "/" starts with a host name ("localhost/health") and
//   matches only requests for that host (Host header without its port); a host pattern
//   that matches host and path takes precedence over general ones, and where none does
//   the general ones are consulted as if there were no host patterns;
// - a request for "/dir" when only "/dir/" is registered is redirected (301) to "/dir/";
// - unclean paths ("//x", "/a/../b", "/a/./b") are redirected (301) to the clean path;
// - matching is on the percent-decoded path ("/live%2Ets" matches "/live.ts").

/** What to do with a request. */
export type Route<H> =
  | { kind: 'handler'; handler: H; pattern: string }
  | { kind: 'redirect'; location: string }
  | { kind: 'notFound' }
  /** A request target no route can be looked up for ("*", malformed escapes, no path). */
  | { kind: 'badRequest' };

export class ServeMux<H> {
  /** Every pattern, for exact matches. */
  private readonly exact = new Map<string, H>();
  /** Patterns ending in "/", longest first. */
  private subtrees: { pattern: string; handler: H }[] = [];
  private hosts = false;

  /** Register `pattern`; a second registration of the same pattern replaces the first. */
  handle(pattern: string, handler: H): void {
    if (pattern === '') throw new Error('empty route pattern');
    const replaced = this.exact.has(pattern);
    this.exact.set(pattern, handler);
    if (pattern.endsWith('/')) {
      if (replaced) this.subtrees = this.subtrees.filter((e) => e.pattern !== pattern);
      this.subtrees.push({ pattern, handler });
      // Stable: equal lengths cannot both prefix one path, so their order never matters.
      this.subtrees.sort((a, b) => b.pattern.length - a.pattern.length);
    }
    if (!pattern.startsWith('/')) this.hosts = true;
  }

  /**
   * Route a request: `target` is the request-target as received (req.url: origin form
   * "/path?query", absolute form "http://host/path", or "*"), `hostHeader` the Host header.
   */
  resolve(target: string, hostHeader: string | undefined): Route<H> {
    const t = splitTarget(target, hostHeader ?? '');
    if (!t) return { kind: 'badRequest' };
    const decoded = percentDecode(t.rawPath);
    if (decoded === undefined) return { kind: 'badRequest' };
    const host = stripHostPort(t.host);
    const path = cleanPath(decoded);
    const query = t.query !== undefined && t.query !== '' ? `?${t.query}` : '';
    if (this.shouldRedirectToSlash(host, path)) return { kind: 'redirect', location: escapePath(`${path}/`) + query };
    if (path !== decoded) return { kind: 'redirect', location: escapePath(path) + query };
    return this.match(host, path);
  }

  private match(host: string, path: string): Route<H> {
    if (this.hosts) {
      const m = this.lookup(host + path);
      if (m) return m;
    }
    return this.lookup(path) ?? { kind: 'notFound' };
  }

  private lookup(path: string): Route<H> | undefined {
    const h = this.exact.get(path);
    if (h !== undefined) return { kind: 'handler', handler: h, pattern: path };
    for (const e of this.subtrees) {
      if (path.startsWith(e.pattern)) return { kind: 'handler', handler: e.handler, pattern: e.pattern };
    }
    return undefined;
  }

  /** "/tree" is sent to "/tree/" when only the subtree is registered (for host or not). */
  private shouldRedirectToSlash(host: string, path: string): boolean {
    if (path.endsWith('/')) return false;
    const candidates = [path, host + path];
    if (candidates.some((c) => this.exact.has(c))) return false;
    return candidates.some((c) => this.exact.has(`${c}/`));
  }
}

interface Target { host: string; rawPath: string; query: string | undefined }

const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)(.*)$/s;

/** Split a request-target into host, raw path and query, as Go's request parsing does. */
function splitTarget(target: string, hostHeader: string): Target | undefined {
  if (target === '*' || target === '') return undefined;
  let host = hostHeader;
  let rest = target;
  if (!target.startsWith('/')) {
    // Absolute form (what proxies send): the host in the URL replaces the Host header.
    const m = ABSOLUTE.exec(target);
    if (!m) return undefined;
    const authority = m[1]!;
    const at = authority.lastIndexOf('@');
    const urlHost = at >= 0 ? authority.slice(at + 1) : authority;
    if (urlHost !== '') host = urlHost;
    rest = m[2]!;
  }
  const q = rest.indexOf('?');
  return q < 0 ? { host, rawPath: rest, query: undefined } : { host, rawPath: rest.slice(0, q), query: rest.slice(q + 1) };
}

const HEX = /^[0-9A-Fa-f]{2}$/;

/**
 * Percent-decode a path ("+" stays "+"); undefined for a malformed escape. Node hands us
 * the target as latin1 text, so raw bytes are taken back as bytes and the result read as
 * UTF-8, the way Go compares its byte strings with the UTF-8 patterns of the config.
 */
export function percentDecode(raw: string): string | undefined {
  if (!raw.includes('%')) {
    // eslint-disable-next-line no-control-regex
    return /^[\x00-\x7f]*$/.test(raw) ? raw : Buffer.from(raw, 'latin1').toString('utf8');
  }
  const bytes = Buffer.from(raw, 'latin1');
  const out = Buffer.allocUnsafe(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === 0x25) {
      const hex = raw.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return undefined;
      out[n++] = parseInt(hex, 16);
      i += 2;
    } else {
      out[n++] = c;
    }
  }
  return out.subarray(0, n).toString('utf8');
}

/** Go's path.Clean: one slash between elements, no "." elements, ".." resolved, rooted. */
function cleanRooted(p: string): string {
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return `/${out.join('/')}`;
}

/** Go's cleanPath: the canonical form of a request path, keeping a trailing slash. */
export function cleanPath(p: string): string {
  if (p === '') return '/';
  if (!p.startsWith('/')) p = `/${p}`;
  const np = cleanRooted(p);
  return p.endsWith('/') && np !== '/' ? `${np}/` : np;
}

/** The Host header without a trailing ":port" (unchanged when it does not split). */
export function stripHostPort(h: string): string {
  if (!h.includes(':')) return h;
  if (h.startsWith('[')) {
    // "[v6]:port" -> "v6"; "[v6]" alone does not split (no port) and stays as it is.
    const m = /^\[([^\]]*)\]:[^:]*$/.exec(h);
    return m ? m[1]! : h;
  }
  // "host:port"; more than one colon without brackets does not split.
  const i = h.indexOf(':');
  return !h.includes(':', i + 1) ? h.slice(0, i) : h;
}

// Characters Go leaves unescaped in a URL path: unreserved ones and the reserved ones a
// path may carry (everything reserved but "?").
const PATH_SAFE = /[A-Za-z0-9\-_.~$&+,/:;=@]/;

/** Escape a decoded path for a Location header, as Go's URL.EscapedPath does. */
export function escapePath(p: string): string {
  let out = '';
  for (const b of Buffer.from(p, 'utf8')) {
    const ch = String.fromCharCode(b);
    out += b < 0x80 && PATH_SAFE.test(ch) ? ch : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
