import type http from 'node:http';
import { EVT, type Logger } from '../log/logger.js';
import { redactQuery } from '../log/redact.js';

// The answers the HTTP front (server.ts) gives itself, in the Go original's words: no
// route (404), a subtree without its slash (301), a request it cannot read (400); and the
// one answer to a handler that failed, shared with the primary's internal server.

export function defaultNotFound(_req: http.IncomingMessage, res: http.ServerResponse): void {
  // Go's ServeMux answer, for compatibility with monitoring that matched on it.
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' }).end('404 page not found\n');
}

/** Go's http.Redirect with 301: Location, and a short HTML body for GET. */
export function writeRedirect(req: http.IncomingMessage, res: http.ServerResponse, location: string): void {
  const headers: http.OutgoingHttpHeaders = { Location: location };
  if (req.method === 'GET' || req.method === 'HEAD') headers['Content-Type'] = 'text/html; charset=utf-8';
  const body = req.method === 'GET' ? `<a href="${htmlEscape(location)}">Moved Permanently</a>.\n\n` : '';
  headers['Content-Length'] = Buffer.byteLength(body);
  res.writeHead(301, headers).end(body);
}

export function writeBadRequest(_req: http.IncomingMessage, res: http.ServerResponse): void {
  const body = '400 Bad Request';
  res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close', 'Content-Length': body.length }).end(body);
}

function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c]!);
}

/**
 * A handler threw (a bug): logged as `http_error` with the resource and the error (query
 * redacted), answered 500 if nothing was sent yet; a response already begun is cut off
 * rather than given a 500 text in the middle of its body.
 */
export function answerHandlerError(log: Logger | undefined, req: http.IncomingMessage, res: http.ServerResponse, resource: string, err: unknown, msg: string): void {
  const e = err as { code?: unknown; message?: unknown; stack?: unknown } | undefined;
  log?.error({
    evt: EVT.httpError, resource, method: req.method, path: redactQuery(req.url),
    code: typeof e?.code === 'string' ? e.code : undefined,
    err: typeof e?.message === 'string' ? e.message : String(err),
    stack: typeof e?.stack === 'string' ? e.stack : undefined,
  }, msg);
  if (!res.headersSent) {
    res.writeHead(500, { 'Content-Type': 'text/plain' }).end('500 internal server error');
  } else if (!res.writableEnded) {
    res.destroy();
  }
}
