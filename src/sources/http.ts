import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import { RestreamerError, fromSystemError } from '../errors.js';
import { redactUrl } from '../log/redact.js';
import { UpstreamBase } from './base.js';
import type { DataSink, SourceContext, SourceKind } from './source.js';

// http(s) upstream over node:http (not fetch): plain 'data' events, no stream machinery
// in between. `agent: false` gives every request its own socket, so close() really
// closes the connection instead of parking it in a keep-alive pool.

const MAX_REDIRECTS = 5;
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);

let userAgent: string | undefined;

/** `restreamer/<version>`, read once from package.json (src/ and dist/src/ layouts). */
export function restreamerUserAgent(): string {
  if (userAgent !== undefined) return userAgent;
  let version = '0.0.0';
  const req = createRequire(import.meta.url);
  for (const p of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = req(p) as { name?: string; version?: string };
      if (pkg.name === 'restreamer' && pkg.version) { version = pkg.version; break; }
    } catch { /* not this layout */ }
  }
  userAgent = `restreamer/${version}`;
  return userAgent;
}

class HttpUpstream extends UpstreamBase {
  private req: http.ClientRequest | undefined;
  private res: http.IncomingMessage | undefined;
  private redirects = 0;

  constructor(url: URL, private readonly onData: DataSink) {
    super();
    this.request(url);
  }

  private request(url: URL): void {
    const mod = url.protocol === 'https:' ? https : http;
    let req: http.ClientRequest;
    try {
      req = mod.get(url, { agent: false, headers: { 'user-agent': restreamerUserAgent(), accept: '*/*' } });
    } catch (e) {
      this.finish(fromSystemError(e, `GET ${redactUrl(url)}`));
      return;
    }
    this.req = req;
    // A request replaced by a redirect may still report its teardown: ignore it.
    req.on('error', (e) => { if (req === this.req) this.finish(fromSystemError(e, `GET ${redactUrl(url)}`)); });
    req.on('response', (res) => { if (req === this.req) this.onResponse(url, res); else res.destroy(); });
  }

  private onResponse(url: URL, res: http.IncomingMessage): void {
    if (this.isDone) { res.destroy(); return; }
    const status = res.statusCode ?? 0;
    if (REDIRECT_STATUS.has(status)) {
      res.resume();
      this.req?.destroy();
      const loc = res.headers.location;
      if (!loc) {
        this.finish(new RestreamerError('UPSTREAM_HTTP_STATUS', `upstream answered ${status} without a Location header`));
        return;
      }
      if (++this.redirects > MAX_REDIRECTS) {
        this.finish(new RestreamerError('UPSTREAM_TOO_MANY_REDIRECTS', `more than ${MAX_REDIRECTS} redirects from ${redactUrl(url)}`));
        return;
      }
      let next: URL;
      try {
        next = new URL(loc, url);
      } catch {
        this.finish(new RestreamerError('UPSTREAM_HTTP_STATUS', `upstream answered ${status} with an invalid Location: ${loc}`));
        return;
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        this.finish(new RestreamerError('UPSTREAM_UNSUPPORTED', `redirect to unsupported scheme: ${next.protocol}`));
        return;
      }
      this.request(next);
      return;
    }
    this.res = res;
    if (status !== 200) {
      res.resume();
      this.finish(new RestreamerError('UPSTREAM_HTTP_STATUS', `upstream answered ${status} ${res.statusMessage ?? ''}`.trimEnd()));
      return;
    }
    this.markConnected();
    res.on('data', this.onData);
    res.on('end', () => this.finish());
    res.on('error', (e) => this.finish(fromSystemError(e, `reading ${redactUrl(url)}`)));
    // A socket that dies mid-body: 'close' without 'end'.
    res.on('close', () => {
      if (res.complete) this.finish();
      else this.finish(new RestreamerError('UPSTREAM_IO', `connection to ${redactUrl(url)} closed before the end of the body`));
    });
  }

  protected teardown(): void {
    this.res?.destroy();
    this.req?.destroy();
  }
}

export const httpKind: SourceKind = {
  schemes: ['http', 'https'],
  validate(url) {
    if (!url.hostname) return `${url.protocol}// upstream needs a host`;
    return undefined;
  },
  open(ctx: SourceContext, onData: DataSink) {
    return new HttpUpstream(ctx.url, onData);
  },
};
