import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authorizer } from '../auth/auth.js';
import type { AuthGuard } from '../auth/guard.js';
import { EVT, type Logger } from '../log/logger.js';
import { redactQuery } from '../log/redact.js';
import type { Handler } from './server.js';
import { noteFor, notesOf } from './notes.js';

// Wrappers applied to every route by the composition root: authentication in front of
// the resource, the access log around it. Both work per request, never per chunk.

export interface RequireAuthOptions {
  /** Brute-force protection: addresses that sent wrong credentials too often get 429. */
  guard?: AuthGuard;
}

/**
 * Let the request through to `next` only with acceptable credentials; otherwise answer
 * with the authorizer's status (401 + challenge for basic, 403 otherwise) and no body,
 * as the original does. An address the guard blocks gets 429 before any check.
 */
export function requireAuth(next: Handler, authorize: Authorizer, o: RequireAuthOptions = {}): Handler {
  return (req, res) => {
    const address = req.socket.remoteAddress;
    const blockedMs = o.guard?.blockedMs(address) ?? 0;
    if (blockedMs > 0) {
      res.writeHead(429, { 'Retry-After': String(Math.ceil(blockedMs / 1000)), 'Content-Length': '0' }).end();
      return;
    }
    const result = authorize(req.headers.authorization, { target: req.url ?? '', address });
    if (result.ok) {
      if (result.user !== undefined) noteFor(res).user = result.user;
      next(req, res);
      return;
    }
    // Why, on the request's access line (no line of its own: a scanner costs one line per
    // request, not two); the token is a credential and never reaches the log.
    if (result.reason !== undefined) noteFor(res).reason = result.reason;
    if (result.wrong === true) o.guard?.fail(address);
    res.writeHead(result.status, { ...result.headers, 'Content-Length': '0' }).end();
  };
}

export interface AccessLogOptions {
  log: Logger;
  /** Called once per response with its status, as soon as the headers are out (metrics). */
  onStatus?: (status: number) => void;
}

/** One JSON line (evt "access") per finished request, written when the response closes. */
export function withAccessLog(next: Handler, o: AccessLogOptions): Handler {
  return (req, res) => {
    const started = performance.now();
    const socket = req.socket;
    // Bytes on the wire for this response (headers and framing included), from the
    // connection's own counter: nothing is counted per chunk.
    const writtenBefore = socket.bytesWritten;
    // Count the status when the headers go out: a stream response starts now and may last
    // hours; in multi-process mode it starts only after the primary granted a slot.
    const onStatus = o.onStatus;
    if (onStatus) res.onHeaders(onStatus);
    res.once('close', () => logAccess(o, req, res, started, socket.bytesWritten - writtenBefore));
    next(req, res);
  };
}

function logAccess(o: AccessLogOptions, req: IncomingMessage, res: ServerResponse, started: number, bytes: number): void {
  const status = res.headersSent ? res.statusCode : 0;
  const line: Record<string, unknown> = {
    evt: EVT.access,
    // Separate keys, as on the client lines; the original's format joins them ("ip:port").
    remote: req.socket.remoteAddress,
    port: req.socket.remotePort,
    method: req.method,
    path: redactQuery(req.url),
    status,
    bytes,
    durationMs: Math.round(performance.now() - started),
    ua: req.headers['user-agent'],
  };
  const note = notesOf(res);
  if (note?.user !== undefined) line.user = note.user;
  if (note?.reason !== undefined) line.reason = note.reason;
  const client = note?.client;
  if (client) {
    line.packetsSent = client.packetsSent;
    line.packetsDropped = client.packetsDropped;
  }
  // The client went away before the response ended (normal for stream viewers).
  if (!res.writableFinished) line.aborted = true;
  o.log.info(line, 'request');
}
