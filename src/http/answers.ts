import type http from 'node:http';

// The answers the HTTP front (server.ts) gives itself, in the Go original's words: no
// route (404), a subtree without its slash (301), a request it cannot read (400).

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
