import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Handler } from '../http/server.js';
import { notesOf } from '../http/notes.js';
import { EVT, type Logger } from '../log/logger.js';
import { SnapshotBroadcaster } from './sse.js';
import type { StatusSnapshot, StatusSource, StreamStatus } from './types.js';
import { crossSiteReason, relativeUrl, requestBase, type TrustedProxies } from './urls.js';

// The "status" API: one page and everything it needs on the resource's own path, told
// apart by the query string, so the page uses only relative URLs ("?events") and works
// behind any reverse proxy or path prefix:
//   GET  serve                      the page
//   GET  serve?asset=app.js         its script, style sheet, and mpegts.js (the preview)
//   GET  serve?events               Server-Sent Events: a snapshot per second
//   GET  serve?snapshot             one snapshot as JSON
//   POST serve?action=end&client=ID            end a client's connection
//   POST serve?action=offline|online&stream=P  the control API's offline / online

export interface Asset { body: Buffer; type: string; etag: string }

/** The page's files, read once: web/status/ of this package, and mpegts.js from node_modules. */
export function loadAssets(log: Logger): Map<string, Asset> {
  const dir = findWebDir();
  const assets = new Map<string, Asset>();
  const add = (name: string, path: string, type: string) => {
    const body = readFileSync(path);
    assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` });
  };
  add('index.html', join(dir, 'index.html'), 'text/html; charset=utf-8');
  add('app.js', join(dir, 'app.js'), 'text/javascript; charset=utf-8');
  add('style.css', join(dir, 'style.css'), 'text/css; charset=utf-8');
  try {
    add('mpegts.js', createRequire(import.meta.url).resolve('mpegts.js'), 'text/javascript; charset=utf-8');
  } catch (err) {
    log.warn({ evt: EVT.warning, err: (err as Error).message }, 'status page: mpegts.js is not installed; the preview is disabled');
  }
  return assets;
}

/** web/status next to src/ (from src/status/) or next to dist/ (from dist/src/status/). */
function findWebDir(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const c = join(d, 'web', 'status');
    if (existsSync(join(c, 'index.html'))) return c;
    d = dirname(d);
  }
  throw new Error('status page: web/status/index.html not found in the package');
}

/** The page may load only its own files; nothing else may frame it (its buttons act). */
const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; media-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
};

export interface StatusPageOptions {
  source: StatusSource;
  /** This resource's serve path (the page's links to streams are relative to it). */
  servePath: string;
  /**
   * Actions are allowed: the resource has authentication, so only its users get here.
   * Without it the page is read-only (anyone who can reach it could act otherwise).
   */
  actions: boolean;
  trusted: TrustedProxies;
  assets: ReadonlyMap<string, Asset>;
  log: Logger;
  /** Time between updates, ms (default 1000). */
  intervalMs?: number;
  /**
   * Requests come from a worker over the internal channel (multi-process mode), built by
   * statusForward(): already authenticated and checked for same-origin there; an action
   * arrives as a GET with `action=`. Never set this for a route clients can reach.
   */
  forwarded?: boolean;
}

type PageStream = StreamStatus & { playUrl: string };
type PageMessage = Omit<StatusSnapshot, 'streams'> & { actions: boolean; preview: boolean; streams: PageStream[] };

export class StatusPage {
  readonly broadcaster: SnapshotBroadcaster;
  private readonly playUrls = new Map<string, string>();

  constructor(private readonly o: StatusPageOptions) {
    this.broadcaster = new SnapshotBroadcaster({
      build: () => this.message(),
      intervalMs: o.intervalMs ?? 1000,
      onError: (err) => o.log.warn({ evt: EVT.warning, err: (err as Error).message }, 'status page: snapshot failed'),
    });
  }

  readonly handle: Handler = (req, res) => {
    const q = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
    if (req.method === 'POST' || (this.o.forwarded && q.has('action'))) { this.action(req, res, q); return; }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD, POST', 'Content-Length': '0' }).end();
      return;
    }
    if (q.has('events')) {
      if (req.method === 'HEAD') res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache' }).end();
      else this.broadcaster.subscribe(res);
      return;
    }
    if (q.has('snapshot')) {
      void this.message().then((body) => send(req, res, 200, 'application/json', body), (err: unknown) => {
        this.o.log.warn({ evt: EVT.warning, err: (err as Error).message }, 'status page: snapshot failed');
        send(req, res, 500, 'text/plain', '500 internal server error\n');
      });
      return;
    }
    const asset = this.o.assets.get(q.get('asset') ?? 'index.html');
    if (!asset || (q.has('asset') && q.get('asset') === 'index.html')) { send(req, res, 404, 'text/plain', '404 not found\n'); return; }
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, { ETag: asset.etag, 'Cache-Control': 'no-cache' }).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': asset.type,
      'Content-Length': asset.body.length,
      ETag: asset.etag,
      'Cache-Control': 'no-cache',
      ...SECURITY_HEADERS,
    });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  };

  close(): void { this.broadcaster.close(); }

  private async message(): Promise<string> {
    const snap = await this.o.source.snapshot();
    const msg: PageMessage = {
      ...snap,
      actions: this.o.actions,
      preview: this.o.assets.has('mpegts.js'),
      streams: snap.streams.map((s) => ({ ...s, playUrl: this.playUrl(s.path) })),
    };
    return JSON.stringify(msg);
  }

  private playUrl(path: string): string {
    let u = this.playUrls.get(path);
    if (u === undefined) this.playUrls.set(path, (u = relativeUrl(this.o.servePath, path)));
    return u;
  }

  private action(req: IncomingMessage, res: ServerResponse, q: URLSearchParams): void {
    // Parameters are in the query; a body, if any, is not read.
    req.resume();
    if (!this.o.forwarded) {
      const cross = crossSiteReason(req.headers, requestBase(req.headers, req.socket.remoteAddress, this.o.trusted));
      if (cross !== undefined) return sendJson(res, 403, { ok: false, error: `cross-site request refused (${cross})` });
    }
    if (!this.o.actions) {
      return sendJson(res, 403, { ok: false, error: 'actions need authentication: give the status resource an "authentication" stanza' });
    }
    const user = notesOf(res)?.user;
    const action = q.get('action');
    const done = (ok: boolean, what: Record<string, unknown>, notFound: string): void => {
      if (!ok) return sendJson(res, 404, { ok: false, error: notFound });
      this.o.log.info({ evt: EVT.statusAction, action, user, remote: req.socket.remoteAddress, port: req.socket.remotePort, ...what }, 'status page action');
      this.broadcaster.poke();
      sendJson(res, 200, { ok: true });
    };
    const failed = (err: unknown) => sendJson(res, 500, { ok: false, error: (err as Error).message });
    if (action === 'end') {
      const id = q.get('client');
      if (!id) return sendJson(res, 400, { ok: false, error: 'missing client' });
      if (!this.o.source.clientDetails) return sendJson(res, 501, { ok: false, error: 'ending a client is not available in multi-process mode (workers > 1)' });
      void this.o.source.endClient(id).then((ok) => done(ok, { client: id }, 'no such client'), failed);
      return;
    }
    if (action === 'offline' || action === 'online') {
      const stream = q.get('stream');
      if (!stream) return sendJson(res, 400, { ok: false, error: 'missing stream' });
      void this.o.source.setOffline(stream, action === 'offline').then((ok) => done(ok, { stream }, 'no such stream'), failed);
      return;
    }
    sendJson(res, 400, { ok: false, error: 'unknown action (end, offline, online)' });
  }
}

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache' }).end(text);
}
