// In-process HTTP handler tests: the real handler on a real node:http server on port 0
// (loopback), a real client, and a pino logger whose lines the test can read.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/log/logger.js';
import { FrontResponse, type FrontServer, type Handler } from '../../src/http/server.js';

export type { Handler };

export interface LogLine { evt?: string; msg?: string; level?: number; [k: string]: unknown }

export interface Served {
  readonly server: FrontServer;
  readonly port: number;
  /** http://127.0.0.1:port */
  readonly base: string;
  /** Closes the server and every connection still open. */
  close(): Promise<void>;
}

/** `handler` on a fresh server listening on 127.0.0.1, port 0. */
export async function serve(handler: Handler): Promise<Served> {
  const server = http.createServer({ ServerResponse: FrontResponse }, handler);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server, port, base: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** A pino logger at debug level whose JSON lines land in `lines`, parsed. */
export function capturedLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

export interface Answer { status: number; headers: http.IncomingHttpHeaders; body: Buffer }

/** One request on a fresh connection; the whole answer. */
export function request(url: string, opts: http.RequestOptions = {}, body?: string | Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, ...opts }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
