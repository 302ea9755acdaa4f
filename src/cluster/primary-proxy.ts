import http from 'node:http';
import type { Handler } from '../http/server.js';
import { acceptsGzip } from '../http/encoding.js';

// Multi-process mode: API and static resources are answered by the primary, which has the
// whole instance's figures and the one static cache. The worker is where the request
// arrives, so the worker authenticates it (requireAuth wraps this handler) and logs it.
//
// What crosses to the primary is a request the worker builds itself, never the client's:
// the resource's index as the path, the method reduced to GET or HEAD, and only the values
// the resource needs, parsed and re-emitted in a fixed form (control's action, the ETags of
// If-None-Match, whether the scraper takes gzip). No client header, path, query or body is
// copied, so nothing a client sends can frame or shape a request on the internal channel.
// Node's HTTP client frames each request (no body at all), and the answer is relayed with
// a fixed list of headers (never Connection or Keep-Alive, which belong to each hop).

/** Header carrying the per-run secret that the primary's internal server checks. */
export const SECRET_HEADER = 'x-restreamer-secret';
/**
 * How a worker names a resource to the primary: the configuration's generation (0 at
 * start, one more per reload) and the resource's index in its `resources`. A request
 * authorised under one configuration is never answered by a resource of another.
 */
const internalPath = (generation: number, resourceIndex: number): string => `/r/${generation}/${resourceIndex}`;

/**
 * How a request is re-made for the primary, by what the answer depends on: nothing but the
 * resource (`api`), control's action, whether the scraper takes gzip, a static resource's
 * ETags, or a query the resource builds itself (`status`, with ForwardOptions.query). Which
 * API is forwarded how is said by its entry in the API registry (src/roles/apis.ts).
 */
export type ForwardKind = 'api' | 'control' | 'prometheus' | 'static' | 'status';

/** A resource's own request builder (the status page): fixed method and query, or the answer to give at once. */
export type ForwardQuery = (req: http.IncomingMessage) =>
  | { ok: true; method: 'GET' | 'HEAD'; query: string }
  | { ok: false; status: number; error: string };

/** Response headers passed from the primary to the client; everything else is dropped. */
const RELAYED = ['content-type', 'content-length', 'content-encoding', 'etag', 'cache-control', 'last-modified', 'vary', 'allow', 'x-content-type-options', 'content-security-policy', 'x-frame-options', 'referrer-policy'];
/** A static ETag as the primary makes it: 64-bit FNV-1a, 16 hex digits, quoted. */
const ETAG = /"[0-9a-f]{16}"/g;
const MAX_ETAGS = 16;
/** API answers come from memory; a static answer may wait for its upstream fetch. */
const API_TIMEOUT_MS = 5000;

export interface ForwardOptions {
  socketPath: string;
  secret: string;
  generation: number;
  resourceIndex: number;
  kind: ForwardKind;
  /** Longest wait for the primary's answer, ms (static: its upstream timeout and more). */
  timeoutMs?: number;
  agent: http.Agent;
  /** kind 'status': builds the method and query from parsed values (src/status/forward.ts). */
  query?: ForwardQuery;
}

/** One agent per worker for the internal socket: connections are reused, bodies never sent. */
export function internalAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 8 });
}

/** The action of a control request (`?offline` wins over `?online`, as in the original). */
export function controlAction(url: string | undefined): 'offline' | 'online' | undefined {
  const q = (url ?? '').indexOf('?');
  const params = new URLSearchParams(q < 0 ? '' : (url ?? '').slice(q + 1));
  if (params.has('offline')) return 'offline';
  if (params.has('online')) return 'online';
  return undefined;
}

/** The internal request's path and headers, made only from values parsed out of `req`. */
export function buildForward(req: http.IncomingMessage, o: Pick<ForwardOptions, 'secret' | 'generation' | 'resourceIndex' | 'kind'>): { method: 'GET' | 'HEAD'; path: string; headers: Record<string, string> } {
  const method = req.method === 'HEAD' ? 'HEAD' : 'GET';
  let path = internalPath(o.generation, o.resourceIndex);
  const headers: Record<string, string> = { [SECRET_HEADER]: o.secret };
  switch (o.kind) {
    case 'control': {
      const action = controlAction(req.url);
      if (action) path += `?${action}`;
      break;
    }
    case 'prometheus':
      if (acceptsGzip(req.headers['accept-encoding'])) headers['accept-encoding'] = 'gzip';
      break;
    case 'static': {
      const inm = req.headers['if-none-match'];
      const tags = typeof inm === 'string' ? (inm.match(ETAG) ?? []).slice(0, MAX_ETAGS) : [];
      if (typeof inm === 'string' && inm.trim() === '*') headers['if-none-match'] = '*';
      else if (tags.length) headers['if-none-match'] = tags.join(', ');
      break;
    }
    case 'api':
    case 'status':
      break;
  }
  return { method, path, headers };
}

/** Worker side of an API or static resource: ask the primary, relay its answer. */
export function primaryProxy(o: ForwardOptions): Handler {
  return (req, res) => {
    const f = buildForward(req, o);
    if (o.query) {
      const q = o.query(req);
      if (!q.ok) {
        res.writeHead(q.status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache' }).end(`${q.error}\n`);
        return;
      }
      f.method = q.method;
      if (q.query) f.path += `?${q.query}`;
    }
    const up = http.request({ socketPath: o.socketPath, agent: o.agent, method: f.method, path: f.path, headers: f.headers }, (ur) => {
      const headers: Record<string, string | string[]> = {};
      for (const name of RELAYED) {
        const v = ur.headers[name];
        if (v !== undefined) headers[name] = v;
      }
      res.writeHead(ur.statusCode ?? 502, headers);
      ur.pipe(res);
      ur.on('error', () => res.destroy());
    });
    up.setTimeout(o.timeoutMs ?? API_TIMEOUT_MS, () => up.destroy(new Error('primary did not answer')));
    up.on('error', () => {
      if (res.headersSent) { res.destroy(); return; }
      res.writeHead(502, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache' });
      res.end('502 bad gateway');
    });
    // The client going away ends the internal request too.
    res.once('close', () => { if (!res.writableFinished) up.destroy(); });
    up.end();
  };
}
