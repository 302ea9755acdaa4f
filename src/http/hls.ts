import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Handler } from './server.js';

// The HTTP side of live HLS (docs/hls.md): the playlist at the `hls` path, the segments
// under it. Everything served is already rendered (hub/hls-window.ts): a request writes
// one immutable buffer, or a slice of it for a Range. HLS requests take no connection
// slot (maxconnections): a 404 in the middle of playback would break the player.

/** A rendered playlist or segment. */
interface Rendered { readonly etag: string }

/** Where the playlist and segments come from (hub/hls-segmenter.ts HlsSegmenter). */
export interface HlsSource {
  /** #EXT-X-TARGETDURATION, seconds. */
  readonly targetS: number;
  /** When the newest segment was listed, ms (the clock the handler is given); -1: none yet. */
  readonly lastListedAt: number;
  playlist(): (Rendered & { readonly body: Buffer }) | undefined;
  segment(name: string): (Rendered & { readonly data: Buffer }) | undefined;
  /** Call `fn` once, when the next segment is listed; returns what cancels that. */
  onListed(fn: () => void): () => void;
}

/** What HLS needs of its stream (stream/contracts.ts StreamState). */
export interface HlsStream {
  readonly available: boolean;
  /** Switched offline by the control API. */
  readonly offline: boolean;
  readonly ondemand: boolean;
  demand(): Promise<boolean>;
  viewerJoined(): void;
  viewerLeft(): void;
}

export interface HlsHandlerOptions {
  /** The playlist's path (the resource's `hls`). */
  path: string;
  stream: HlsStream;
  source: HlsSource;
  /** Send Access-Control-Allow-Origin: * (browser players on other origins). */
  cors: boolean;
  /** The resource has authentication: shared caches must not keep its answers. */
  authenticated?: boolean;
  /** The segmenter's clock (default Date.now). */
  now?: () => number;
  /** Before the first segment, a playlist request waits this long for it, then 404 (default 0: at once). */
  firstSegmentWaitMs?: number;
}

/** Target durations a playlist is still served for while its upstream is being replaced. */
const GAP_TARGETS = 3;

/** Segments never change under their URL (the epoch is new at each segmenter start). */
const SEGMENT_MAX_AGE = 'max-age=86400, immutable';

/** True when an If-None-Match header value names `etag`. */
function matches(inm: string | undefined, etag: string): boolean {
  if (inm === undefined) return false;
  return inm.split(',').some((t) => { const v = t.trim().replace(/^W\//, ''); return v === etag || v === '*'; });
}

/** The one byte range asked for, [start, end] inclusive; null: the whole body; 'bad': unsatisfiable. */
function byteRange(header: string | undefined, size: number): [number, number] | null | 'bad' {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null; // several ranges or another unit: the whole body (RFC 9110 allows it)
  let start: number, end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start >= size || start > end ? 'bad' : [start, end];
}

export function hlsHandler(o: HlsHandlerOptions): Handler {
  const cors: OutgoingHttpHeaders = o.cors ? { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': 'Content-Length, Content-Range' } : {};
  const notFound = (res: ServerResponse) => { res.writeHead(404, { ...cors, 'Content-Length': '0', 'Cache-Control': 'no-cache' }).end(); };
  // A path with a host name ("localhost/news.m3u8") is matched on its path part.
  const playlist = o.path.startsWith('/') ? o.path : o.path.slice(o.path.indexOf('/'));
  const prefix = `${playlist}/`;
  const scope = o.authenticated ? 'private' : 'public';
  const now = o.now ?? Date.now;
  // Players poll through an upstream switch (a 404 would stop them): while a segment was
  // listed within the last few target durations, the playlist stays up.
  const servable = (): boolean => o.stream.available ||
    (!o.stream.offline && o.source.lastListedAt >= 0 && now() - o.source.lastListedAt <= GAP_TARGETS * o.source.targetS * 1000);

  const sendPlaylist = (req: IncomingMessage, res: ServerResponse): void => {
    const pl = o.source.playlist();
    if (!pl) return notFound(res);
    const maxAge = Math.max(1, Math.floor(o.source.targetS / 2));
    send(req, res, pl.body, pl.etag, { ...cors, 'Content-Type': 'application/vnd.apple.mpegurl', 'Cache-Control': `${scope}, max-age=${maxAge}` }, false);
  };

  const serve = (req: IncomingMessage, res: ServerResponse, path: string): void => {
    if (path === playlist) {
      // Each poll keeps an on-demand upstream: `linger` runs from the last one.
      o.stream.viewerJoined();
      o.stream.viewerLeft();
      if (o.source.playlist()) return sendPlaylist(req, res);
      // Starting (an on-demand upstream just connected, a new epoch): wait for its first segment.
      whenListed(o.source, res, o.firstSegmentWaitMs ?? 0, () => { sendPlaylist(req, res); }, () => { notFound(res); });
      return;
    }
    const seg = path.startsWith(prefix) ? o.source.segment(path.slice(prefix.length)) : undefined;
    if (!seg) return notFound(res);
    send(req, res, seg.data, seg.etag, { ...cors, 'Content-Type': 'video/mp2t', 'Cache-Control': `${scope}, ${SEGMENT_MAX_AGE}`, 'Accept-Ranges': 'bytes' }, true);
  };

  return (req, res) => {
    if (req.method === 'OPTIONS' && o.cors) {
      res.writeHead(204, { ...cors, 'Access-Control-Allow-Methods': 'GET, HEAD', 'Access-Control-Allow-Headers': 'Range', 'Access-Control-Max-Age': '86400' }).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Length': '0' }).end();
      return;
    }
    const url = req.url ?? '';
    const q = url.indexOf('?');
    let path: string;
    try {
      path = decodeURIComponent(new URL(q < 0 ? url : url.slice(0, q), 'http://x').pathname);
    } catch {
      return notFound(res); // not a path any segment has (the front lets few such through)
    }
    if (servable()) return serve(req, res, path);
    if (!o.stream.ondemand || path !== playlist) return notFound(res);
    // On demand: the first playlist request starts the upstream, and waits for its first segment.
    void o.stream.demand().then((ok) => {
      if (res.destroyed) return;
      if (ok && o.stream.available) serve(req, res, path);
      else notFound(res);
    });
  };
}

/** Call `then` when `source` lists its next segment, or `none` after `ms`; nothing if the client goes first. */
function whenListed(source: HlsSource, res: ServerResponse, ms: number, then: () => void, none: () => void): void {
  if (ms <= 0) return none();
  const gone = (): void => { cancel(); clearTimeout(timer); };
  const cancel = source.onListed(() => { clearTimeout(timer); res.off('close', gone); then(); });
  const timer = setTimeout(() => { cancel(); res.off('close', gone); none(); }, ms);
  res.once('close', gone);
}

/** 200, 206, 304 or 416 with `body` (or the range asked for); HEAD gets the headers only. */
function send(req: IncomingMessage, res: ServerResponse, body: Buffer, etag: string, headers: OutgoingHttpHeaders, ranges: boolean): void {
  const h: OutgoingHttpHeaders = { ...headers, ETag: etag };
  if (matches(req.headers['if-none-match'], etag)) {
    res.writeHead(304, h).end();
    return;
  }
  const r = ranges ? byteRange(req.headers.range, body.length) : null;
  if (r === 'bad') {
    res.writeHead(416, { ...h, 'Content-Range': `bytes */${body.length}`, 'Content-Length': '0' }).end();
    return;
  }
  const part = r === null ? body : body.subarray(r[0], r[1] + 1);
  if (r !== null) h['Content-Range'] = `bytes ${r[0]}-${r[1]}/${body.length}`;
  h['Content-Length'] = part.length;
  res.writeHead(r === null ? 200 : 206, h);
  res.end(req.method === 'HEAD' ? undefined : part);
}
