import type http from 'node:http';
import { createRequire } from 'node:module';
import { RestreamerError, fromSystemError } from '../../errors.js';
import { RedirectingGet, isRedirect } from '../../net/get.js';
import { redactUrl } from '../../log/redact.js';
import { UpstreamBase } from '../base.js';
import type { DataSink, NoOptions, SourceContext, SourceKind } from '../source.js';

// http(s) upstream over node:http (not fetch; see ../../net/get.ts): plain 'data' events,
// no stream machinery in between. `agent: false` gives every request its own socket, so
// close() really closes the connection instead of parking it in a keep-alive pool.

let userAgent: string | undefined;

/** `restreamer/<version>`, read once from package.json (src/ and dist/src/ layouts). */
function restreamerUserAgent(): string {
  if (userAgent !== undefined) return userAgent;
  let version = '0.0.0';
  const req = createRequire(import.meta.url);
  for (const p of ['../../../package.json', '../../../../package.json']) {
    try {
      const pkg = req(p) as { name?: string; version?: string };
      if (pkg.name === 'restreamer' && pkg.version) { version = pkg.version; break; }
    } catch { /* not this layout */ }
  }
  userAgent = `restreamer/${version}`;
  return userAgent;
}

class HttpUpstream extends UpstreamBase {
  private get: RedirectingGet | undefined;
  private res: http.IncomingMessage | undefined;

  constructor(url: URL, private readonly onData: DataSink) {
    super();
    this.get = new RedirectingGet(url, {
      what: 'upstream',
      agent: false,
      headers: { 'user-agent': restreamerUserAgent(), accept: '*/*' },
      onResponse: (res, u) => this.onResponse(u, res),
      onError: (e, u) => this.finish(fromSystemError(e, `GET ${redactUrl(u)}`)),
    });
  }

  private onResponse(url: URL, res: http.IncomingMessage): void {
    if (this.isDone) { res.destroy(); return; }
    const status = res.statusCode ?? 0;
    if (isRedirect(status)) {
      res.resume();
      this.finish(new RestreamerError('UPSTREAM_HTTP_STATUS', `upstream answered ${status} without a Location header`));
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
    this.get?.close();
  }
}

export const httpKind: SourceKind<NoOptions> = {
  schemes: ['http', 'https'],
  validate(url) {
    if (!url.hostname) return `${url.protocol}// upstream needs a host`;
    return undefined;
  },
  open(ctx: SourceContext<NoOptions>, onData: DataSink) {
    return new HttpUpstream(ctx.url, onData);
  },
};
