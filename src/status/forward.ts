import type { IncomingMessage } from 'node:http';
import { crossSiteReason, requestBase, type TrustedProxies } from './urls.js';

// Multi-process mode: a worker passes status page requests to the primary. What crosses is
// built here from parsed values, never the client's bytes: one of a fixed set of queries,
// with a client id or a stream path re-encoded. Actions are checked for same-origin here,
// where the request arrives (the primary never sees the client's Origin or Host), and
// travel as a GET with `action=`, which the primary's page accepts only from the internal
// channel (StatusPageOptions.forwarded).

const STATUS_ASSETS = ['app.js', 'style.css', 'mpegts.js'] as const;
const CLIENT_ID = /^c\d{1,15}$/;
const ACTIONS = new Set(['end', 'offline', 'online']);

export type StatusForward =
  | { ok: true; method: 'GET' | 'HEAD'; query: string }
  | { ok: false; status: number; error: string };

/** The internal request for a status page request, or the answer to give at once. */
export function statusForward(req: IncomingMessage, trusted: TrustedProxies): StatusForward {
  const url = req.url ?? '';
  const i = url.indexOf('?');
  const q = new URLSearchParams(i < 0 ? '' : url.slice(i + 1));
  if (req.method === 'POST') {
    const cross = crossSiteReason(req.headers, requestBase(req.headers, req.socket.remoteAddress, trusted));
    if (cross !== undefined) return { ok: false, status: 403, error: `cross-site request refused (${cross})` };
    const action = q.get('action') ?? '';
    if (!ACTIONS.has(action)) return { ok: false, status: 400, error: 'unknown action (end, offline, online)' };
    if (action === 'end') {
      const id = q.get('client') ?? '';
      if (!CLIENT_ID.test(id)) return { ok: false, status: 400, error: 'missing client' };
      return { ok: true, method: 'GET', query: `action=end&client=${id}` };
    }
    const stream = q.get('stream') ?? '';
    if (stream === '' || stream.length > 1024) return { ok: false, status: 400, error: 'missing stream' };
    return { ok: true, method: 'GET', query: `action=${action}&stream=${encodeURIComponent(stream)}` };
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return { ok: false, status: 405, error: 'method not allowed' };
  const method = req.method;
  if (q.has('events')) return { ok: true, method, query: 'events' };
  if (q.has('snapshot')) return { ok: true, method, query: 'snapshot' };
  const asset = q.get('asset');
  if (asset !== null) {
    if (!(STATUS_ASSETS as readonly string[]).includes(asset)) return { ok: false, status: 404, error: 'not found' };
    return { ok: true, method, query: `asset=${asset}` };
  }
  return { ok: true, method, query: '' };
}
