import http from 'node:http';
import { createReadStream, promises as fsp } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { RestreamerError, errnoOf, errorText, fromSystemError } from '../errors.js';
import { EVT, type Logger } from '../log/logger.js';
import { FaultLog } from '../log/faults.js';
import { redactUrl } from '../log/redact.js';
import { fnv1a64Hex } from './fnv.js';
import { RedirectingGet } from '../net/get.js';
import { systemClock, type Clock } from '../hub/clock.js';

// A static resource: a small file or HTTP(S) document fetched on demand, kept in memory
// for `cacheS` seconds and served with an FNV-1a ETag, as the original's proxy does.
// As the original, a missing file answers 404 and an upstream's error status (500, 404, ...)
// is passed on with its body. Fixed against the original: upstreams without Content-Length
// are read up to the limit instead of refused, errors are never cached and carry
// `Cache-Control: no-cache`, and concurrent requests on a cold cache share one upstream
// fetch. 502 remains for an upstream that could not be read at all.

export interface StaticOptions {
  /** file:// or http(s):// URL. */
  remote: string;
  /** Seconds a fetched body is kept; 0 = fetch on every request. */
  cacheS: number;
  /** Largest body accepted, bytes (default 10 MiB, the original's limit). */
  maxBytes?: number;
  /** Deadline for one whole fetch, ms; undefined or 0 = 30 s (a fetch is always bounded). */
  timeoutMs?: number;
  log: Logger;
  /** Time for the cache's expiry and the fetch deadline (default: the system's). */
  clock?: Clock;
}

interface Entry {
  /** 200, or the error status passed on (never cached). */
  status: number;
  body: Buffer;
  etag: string;
  contentType: string | undefined;
  expires: number;
}

interface Fetched {
  status: number;
  body: Buffer;
  contentType: string | undefined;
}

const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 30_000;

// Enough for what static resources are used for (HbbTV apps, playlists, manifests).
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.xhtml': 'application/xhtml+xml',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.xml': 'text/xml; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.ts': 'video/mp2t',
  '.mp4': 'video/mp4',
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mpd': 'application/dash+xml',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.pdf': 'application/pdf',
};

/** Content type guessed from a file name; application/octet-stream when unknown. */
function mimeFor(path: string): string {
  return MIME[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/** True when an If-None-Match header value matches `etag` (quoted). */
function etagMatches(ifNoneMatch: string, etag: string): boolean {
  for (const raw of ifNoneMatch.split(',')) {
    let t = raw.trim();
    if (t === '*') return true;
    // If-None-Match uses the weak comparison; the unquoted form is what the original sent.
    if (t.startsWith('W/')) t = t.slice(2);
    if (t === etag || `"${t}"` === etag) return true;
  }
  return false;
}

/**
 * The answer to a fetch that failed: the catalogue's status of its error (502 for every
 * upstream failure, as in the original); 502 too for anything uncatalogued.
 */
function failureStatus(err: unknown): number {
  return (err instanceof RestreamerError ? err.status : undefined) ?? 502;
}

function tooLarge(max: number): RestreamerError {
  return new RestreamerError('STATIC_TOO_LARGE', { max });
}

/** Read a stream to the end, failing once more than `max` bytes arrive or on abort. */
function collect(stream: Readable, max: number, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let done = false;
    const finish = (err: unknown, body?: Buffer): void => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      if (body) {
        resolve(body);
      } else {
        stream.destroy();
        reject(err);
      }
    };
    const onAbort = (): void => finish(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    stream.on('data', (c: Buffer) => {
      total += c.length;
      if (total > max) finish(tooLarge(max));
      else chunks.push(c);
    });
    stream.on('end', () => finish(undefined, Buffer.concat(chunks, total)));
    stream.on('error', (e) => finish(signal.aborted ? signal.reason : fromSystemError(e, 'static upstream')));
    stream.on('close', () => finish(signal.aborted ? signal.reason : new RestreamerError('UPSTREAM_ENDED', 'static upstream closed before the end of the body')));
  });
}

export class StaticResource {
  private readonly url: URL;
  private readonly display: string;
  private readonly cacheMs: number;
  private readonly cacheControl: string;
  private readonly maxBytes: number;
  private readonly timeoutMs: number;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly faults: FaultLog;
  private cached: Entry | undefined;
  private inflight: Promise<Entry> | undefined;
  private abort: AbortController | undefined;
  private closed = false;

  constructor(o: StaticOptions) {
    let url: URL;
    try {
      url = new URL(o.remote);
    } catch {
      throw new RestreamerError('CONFIG_INVALID', `static resource: invalid URL ${JSON.stringify(o.remote)}`);
    }
    if (!['file:', 'http:', 'https:'].includes(url.protocol)) {
      throw new RestreamerError('CONFIG_INVALID', `static resource: unsupported scheme ${url.protocol} (file, http, https)`);
    }
    this.url = url;
    this.display = redactUrl(url);
    this.cacheMs = Math.max(0, o.cacheS) * 1000;
    this.cacheControl = `max-age=${Math.floor(Math.max(0, o.cacheS))}`;
    this.maxBytes = o.maxBytes ?? DEFAULT_MAX_BYTES;
    this.timeoutMs = o.timeoutMs && o.timeoutMs > 0 ? o.timeoutMs : DEFAULT_TIMEOUT_MS;
    this.log = o.log;
    const clock = o.clock ?? systemClock;
    this.clock = clock;
    this.faults = new FaultLog(o.log, undefined, () => clock.now());
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.plain(req, res, 405, '405 method not allowed\n', { Allow: 'GET, HEAD' });
      return;
    }
    if (this.closed) {
      this.plain(req, res, 503, '503 service unavailable\n', {});
      return;
    }
    const hit = this.cached;
    if (hit && hit.expires > this.clock.now()) {
      this.respond(req, res, hit);
      return;
    }
    this.load().then(
      (entry) => this.respond(req, res, entry),
      (err: unknown) => {
        const status = failureStatus(err);
        this.plain(req, res, status, `${status} ${(http.STATUS_CODES[status] ?? '').toLowerCase()}\n`, {});
      },
    );
  }

  /** Idempotent: aborts a running fetch (its waiters get 502) and drops the cache. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cached = undefined;
    this.abort?.abort(new RestreamerError('STATIC_UPSTREAM', 'static resource closed'));
  }

  /** Single flight: every request arriving during a fetch waits for that same fetch. */
  private load(): Promise<Entry> {
    if (this.inflight) return this.inflight;
    const p = this.fetch().then(
      (entry) => {
        if (entry.status === 200) {
          if (this.cacheMs > 0 && !this.closed) this.cached = entry;
        } else {
          // Passed on, never cached (the original kept errors for `cache` seconds).
          this.cached = undefined;
          this.noteFailure(new RestreamerError('UPSTREAM_HTTP_STATUS', `static upstream answered ${entry.status}`));
        }
        return entry;
      },
      (err: unknown) => {
        this.cached = undefined; // never serve (or keep in memory) an expired body after a failure
        this.noteFailure(err);
        throw err;
      },
    ).finally(() => {
      if (this.inflight === p) this.inflight = undefined;
    });
    this.inflight = p;
    return p;
  }

  private async fetch(): Promise<Entry> {
    const ac = new AbortController();
    this.abort = ac;
    const phase = { headers: false };
    const timer = this.clock.setTimeout(() => {
      ac.abort(new RestreamerError(
        phase.headers ? 'UPSTREAM_READ_TIMEOUT' : 'UPSTREAM_CONNECT_TIMEOUT',
        `static upstream: no ${phase.headers ? 'complete body' : 'response'} within ${this.timeoutMs} ms`,
      ));
    }, this.timeoutMs);
    try {
      const started = this.clock.now();
      const got = this.url.protocol === 'file:'
        ? await this.fetchFile(ac.signal)
        : await this.fetchHttp(ac.signal, phase);
      const etag = got.status === 200 ? `"${fnv1a64Hex(got.body)}"` : '';
      this.log.debug({ evt: EVT.staticFetch, remote: this.display, status: got.status, bytes: got.body.length, etag, ms: this.clock.now() - started }, 'static resource fetched');
      return { status: got.status, body: got.body, etag, contentType: got.contentType, expires: this.clock.now() + this.cacheMs };
    } finally {
      this.clock.clearTimeout(timer);
      if (this.abort === ac) this.abort = undefined;
    }
  }

  private async fetchFile(signal: AbortSignal): Promise<Fetched> {
    const path = fileURLToPath(this.url);
    let size: number;
    try {
      const st = await fsp.stat(path);
      size = st.isFile() ? st.size : 0;
    } catch (e) {
      // A file that is not there is a 404 with an empty body, as in the original.
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { status: 404, body: Buffer.alloc(0), contentType: undefined };
      throw fromSystemError(e, 'static file');
    }
    if (size > this.maxBytes) throw tooLarge(this.maxBytes);
    const body = await collect(createReadStream(path), this.maxBytes, signal);
    return { status: 200, body, contentType: mimeFor(path) };
  }

  private fetchHttp(signal: AbortSignal, phase: { headers: boolean }): Promise<Fetched> {
    return new Promise<Fetched>((resolve, reject) => {
      new RedirectingGet(this.url, {
        what: 'static upstream',
        signal,
        // identity: the body is hashed and served as is, so it must not arrive compressed.
        headers: { 'accept-encoding': 'identity', 'user-agent': 'restreamer' },
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the abort reason is the Error close() or the deadline gave
        onError: (e) => reject(signal.aborted ? signal.reason : fromSystemError(e, 'static upstream')),
        onResponse: (res) => {
          phase.headers = true;
          const status = res.statusCode ?? 0;
          // Any status but a redirect is passed on with its body (bounded like any body).
          const length = res.headers['content-length'];
          if (length !== undefined && Number(length) > this.maxBytes) {
            // Refused from the header alone: no point reading 10 MiB to throw it away.
            res.destroy();
            reject(tooLarge(this.maxBytes));
            return;
          }
          collect(res, this.maxBytes, signal).then((body) => resolve({ status, body, contentType: res.headers['content-type'] }), reject);
        },
      });
    });
  }

  private respond(req: http.IncomingMessage, res: http.ServerResponse, e: Entry): void {
    if (res.headersSent || res.destroyed) return;
    if (e.status !== 200) {
      const h: http.OutgoingHttpHeaders = { 'Cache-Control': 'no-cache', 'Content-Length': e.body.length };
      if (e.contentType) h['Content-Type'] = e.contentType;
      res.writeHead(e.status, h);
      if (req.method === 'HEAD') res.end();
      else res.end(e.body);
      return;
    }
    const inm = req.headers['if-none-match'];
    if (inm !== undefined && etagMatches(inm, e.etag)) {
      res.writeHead(304, { ETag: e.etag, 'Cache-Control': this.cacheControl });
      res.end();
      return;
    }
    // Only Content-Type comes from the upstream (as in the original); none if it sent none.
    const headers: http.OutgoingHttpHeaders = { ETag: e.etag, 'Cache-Control': this.cacheControl, 'Content-Length': e.body.length };
    if (e.contentType) headers['Content-Type'] = e.contentType;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') res.end();
    else res.end(e.body);
  }

  private plain(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: string, extra: Record<string, string>): void {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, {
      ...extra,
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-cache',
    });
    if (req.method === 'HEAD') res.end();
    else res.end(body);
  }

  /** Repeated upstream failures are summarised: at most one log line per interval. */
  private noteFailure(err: unknown): void {
    if (this.closed) return;
    this.faults.note({ evt: EVT.staticError, remote: this.display, code: errnoOf(err).code, err: errorText(err) }, 'static resource fetch failed');
  }
}
