import http from 'node:http';
import https from 'node:https';
import { RestreamerError } from '../errors.js';
import { redactUrl } from '../log/redact.js';

// The proxy's one GET that follows redirects, over node:http (not fetch): the http(s)
// stream upstream reads the body as plain 'data' events for as long as the stream lasts,
// with no stream machinery in between and no deadline of its own (the supervisor keeps
// the timeouts); the static proxy reads a bounded body under its own deadline (`signal`).
// Redirects are followed at most MAX_REDIRECTS times and only to http(s): a remote
// server never points the proxy at file:// or anything else.

/** Redirects followed before the GET fails with UPSTREAM_TOO_MANY_REDIRECTS. */
export const MAX_REDIRECTS = 5;
const REDIRECT_STATUS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

export function isRedirect(status: number): boolean {
  return REDIRECT_STATUS.has(status);
}

export interface GetOptions {
  headers: http.OutgoingHttpHeaders;
  /** `false`: a socket of its own for every request (closing it really closes the connection). */
  agent?: http.Agent | false;
  /** Aborts the request in flight; it then fails with the AbortError through `onError`. */
  signal?: AbortSignal;
  /** Who answers, in messages ("upstream", "static upstream"). */
  what: string;
  /** The final answer: any status but a redirect with a Location (one without is an answer too). */
  onResponse(res: http.IncomingMessage, url: URL): void;
  /**
   * The GET failed at `url`: an error as Node reported it (socket, DNS, TLS, abort, or
   * http.get throwing), or a RestreamerError for a redirect that cannot be followed.
   */
  onError(err: unknown, url: URL): void;
}

/** One GET and the redirects it leads to. Nothing is reported after close(). */
export class RedirectingGet {
  private req: http.ClientRequest | undefined;
  private redirects = 0;
  private closed = false;

  constructor(url: URL, private readonly o: GetOptions) {
    this.request(url);
  }

  /** Destroys the request in flight. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.req?.destroy();
  }

  private request(url: URL): void {
    const mod = url.protocol === 'https:' ? https : http;
    let req: http.ClientRequest;
    try {
      req = mod.get(url, { agent: this.o.agent, headers: this.o.headers, signal: this.o.signal });
    } catch (e) {
      this.o.onError(e, url);
      return;
    }
    this.req = req;
    // A request replaced by a redirect may still report its teardown: ignore it.
    req.on('error', (e) => { if (req === this.req && !this.closed) this.o.onError(e, url); });
    req.on('response', (res) => {
      if (req === this.req && !this.closed) this.onResponse(url, req, res);
      else res.destroy();
    });
  }

  private onResponse(url: URL, req: http.ClientRequest, res: http.IncomingMessage): void {
    const status = res.statusCode ?? 0;
    const loc = res.headers.location;
    if (!isRedirect(status) || !loc) {
      this.o.onResponse(res, url);
      return;
    }
    // The redirect's body is of no interest: drained so a pooled socket can be reused, or,
    // on a socket of its own, closed at once.
    res.resume();
    if (this.o.agent === false) req.destroy();
    if (++this.redirects > MAX_REDIRECTS) {
      this.o.onError(new RestreamerError('UPSTREAM_TOO_MANY_REDIRECTS', `more than ${MAX_REDIRECTS} redirects from ${redactUrl(url)}`), url);
      return;
    }
    let next: URL;
    try {
      next = new URL(loc, url);
    } catch {
      this.o.onError(new RestreamerError('UPSTREAM_HTTP_STATUS', `${this.o.what} answered ${status} with an invalid Location: ${loc}`), url);
      return;
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      this.o.onError(new RestreamerError('UPSTREAM_UNSUPPORTED', `redirect to unsupported scheme: ${next.protocol}`), url);
      return;
    }
    this.request(next);
  }
}
