import type { IncomingHttpHeaders } from 'node:http';
import { BlockList, isIP } from 'node:net';

// URL building for the playlist and the status page: where the caller reached us (Host,
// or X-Forwarded-* from a trusted reverse proxy), absolute URLs for the playlist, and
// relative URLs for the page (so it works behind any path prefix).

/** Addresses (and subnets) of reverse proxies whose X-Forwarded-* headers are believed. */
export class TrustedProxies {
  private readonly list = new BlockList();
  private readonly empty: boolean;

  constructor(entries: readonly string[]) {
    this.empty = entries.length === 0;
    for (const e of entries) {
      const slash = e.indexOf('/');
      const addr = slash < 0 ? e : e.slice(0, slash);
      const family = isIP(addr);
      if (family === 0) throw new Error(`trustedproxies: not an IP address or subnet: ${JSON.stringify(e)}`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (slash < 0) this.list.addAddress(addr, type);
      else this.list.addSubnet(addr, Number(e.slice(slash + 1)), type);
    }
  }

  has(address: string | undefined): boolean {
    if (this.empty || address === undefined) return false;
    // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (v4) return this.list.check(v4[1]!, 'ipv4');
    const family = isIP(address);
    if (family === 0) return false;
    return this.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** Where a request was addressed to, as the client saw it. */
export interface RequestBase {
  proto: 'http' | 'https';
  /** host[:port], lower case; IPv6 in brackets. */
  host: string;
  /** Path prefix a reverse proxy strips ("" or "/tv"), never with a trailing slash. */
  prefix: string;
}

const REG_NAME = /^[a-z0-9._~-]+$/;

/**
 * A Host header value checked and normalised: "name", "name:port", "1.2.3.4:80",
 * "[::1]:8080". Undefined for anything else (so nothing odd lands in a URL).
 */
export function normaliseHost(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  let host: string;
  let port: string | undefined;
  if (v.startsWith('[')) {
    const close = v.indexOf(']');
    if (close < 0) return undefined;
    host = v.slice(0, close + 1);
    if (isIP(host.slice(1, -1)) !== 6) return undefined;
    const rest = v.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return undefined;
      port = rest.slice(1);
    }
  } else {
    const colon = v.lastIndexOf(':');
    if (colon >= 0) {
      if (v.indexOf(':') !== colon) return undefined; // a bare IPv6 address is not a Host
      host = v.slice(0, colon);
      port = v.slice(colon + 1);
    } else {
      host = v;
    }
    if (!REG_NAME.test(host)) return undefined;
  }
  if (port !== undefined && !validPort(port)) return undefined;
  return port === undefined ? host : `${host}:${port}`;
}

function validPort(p: string): boolean {
  return /^\d{1,5}$/.test(p) && Number(p) <= 65535;
}

/** First value of a header that proxies may repeat or list ("a, b"). */
function first(h: string | string[] | undefined): string | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  if (v === undefined) return undefined;
  const s = v.split(',')[0]!.trim();
  return s === '' ? undefined : s;
}

/**
 * The base a client used to reach us. X-Forwarded-Host / -Proto / -Port / -Prefix count
 * only when the request comes straight from a trusted proxy (anyone else could send
 * them); otherwise the Host header, over plain HTTP (restreamer does not speak TLS).
 * Undefined when there is no usable host.
 */
export function requestBase(headers: IncomingHttpHeaders, remoteAddress: string | undefined, trusted: TrustedProxies): RequestBase | undefined {
  let proto: 'http' | 'https' = 'http';
  let host = normaliseHost(first(headers.host));
  let prefix = '';
  if (trusted.has(remoteAddress)) {
    const fp = first(headers['x-forwarded-proto'])?.toLowerCase();
    if (fp === 'http' || fp === 'https') proto = fp;
    const fh = normaliseHost(first(headers['x-forwarded-host']));
    if (fh !== undefined) {
      host = fh;
      const port = first(headers['x-forwarded-port']);
      if (!hasPort(fh) && port !== undefined && validPort(port) && port !== (proto === 'https' ? '443' : '80')) host = `${fh}:${port}`;
    }
    const px = first(headers['x-forwarded-prefix']);
    if (px?.startsWith('/')) prefix = encodePath(px.replace(/\/+$/, ''));
  }
  return host === undefined ? undefined : { proto, host, prefix };
}

function hasPort(host: string): boolean {
  return host.startsWith('[') ? host.includes(']:') : host.includes(':');
}

/** Characters a path segment may carry as they are (RFC 3986 pchar without '%'). */
const PCHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;

/** Percent-encode what may not appear in a URL path; "/" and existing %XX escapes stay. */
export function encodePath(path: string): string {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i]!;
    if (ch === '/' || PCHAR.test(ch)) out += ch;
    else if (ch === '%' && /^[0-9A-Fa-f]{2}$/.test(path.slice(i + 1, i + 3))) out += ch;
    else {
      // Whole code points (a surrogate pair is one character to encode).
      const cp = path.codePointAt(i)!;
      const s = String.fromCodePoint(cp);
      out += encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
      i += s.length - 1;
    }
  }
  return out;
}

/** Absolute URL of a serve path for a client that reached us at `base`. */
export function absoluteUrl(base: RequestBase, path: string): string {
  return `${base.proto}://${base.host}${base.prefix}${encodePath(path)}`;
}

/**
 * A relative URL from the page at `from` to `to` (both serve paths), so the page works
 * wherever a proxy mounts the server: from "/admin/status" to "/live.ts" is "../live.ts".
 */
export function relativeUrl(from: string, to: string): string {
  const fromDirs = from.split('/').slice(1, -1);
  const toParts = to.split('/').slice(1);
  const toDirs = toParts.slice(0, -1);
  let common = 0;
  while (common < fromDirs.length && common < toDirs.length && fromDirs[common] === toDirs[common]) common++;
  const ups = fromDirs.length - common;
  const rest = encodePath(toParts.slice(common).join('/'));
  // "./" keeps a first segment with ":" from reading as a scheme.
  return (ups > 0 ? '../'.repeat(ups) : './') + rest;
}

/**
 * Why a state-changing request must be refused as cross-site (CSRF), or undefined when
 * it is same-origin or not from a browser. Browsers send Sec-Fetch-Site (it cannot be
 * set by a page); older ones send Origin, compared with the Host the request was sent to.
 */
export function crossSiteReason(headers: IncomingHttpHeaders, base: RequestBase | undefined): string | undefined {
  const site = first(headers['sec-fetch-site']);
  if (site !== undefined) return site === 'same-origin' ? undefined : `Sec-Fetch-Site: ${site}`;
  const origin = first(headers.origin);
  if (origin === undefined) return undefined;
  let host: string | undefined;
  try { host = normaliseHost(new URL(origin).host); } catch { host = undefined; }
  if (host === undefined || base === undefined) return `Origin: ${origin}`;
  const own = normaliseHost(first(headers.host));
  if (host === base.host || host === own) return undefined;
  return `Origin: ${origin}`;
}
