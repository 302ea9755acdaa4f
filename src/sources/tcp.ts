import net from 'node:net';
import { fromSystemError } from '../errors.js';
import { UpstreamBase } from './base.js';
import type { DataSink, NoOptions, SourceContext, SourceKind } from './source.js';

/**
 * A stream socket upstream (TCP or Unix): connected on 'connect', bytes straight to the
 * sink, a clean end of stream finishes without error. Shared by tcp.ts and unix.ts.
 */
export class SocketUpstream extends UpstreamBase {
  private readonly socket: net.Socket;

  constructor(opts: net.NetConnectOpts, what: string, onData: DataSink) {
    super();
    const s = net.connect(opts);
    this.socket = s;
    s.on('connect', () => this.markConnected());
    s.on('data', onData);
    s.on('end', () => this.finish());
    s.on('error', (e) => this.finish(fromSystemError(e, what)));
    s.on('close', () => this.finish());
  }

  protected teardown(): void {
    this.socket.destroy();
  }
}

/** `tcp://[::1]:1234` gives hostname `[::1]`: net.connect wants it without brackets. */
function hostOf(url: URL): string {
  const h = url.hostname;
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

export const tcpKind: SourceKind<NoOptions> = {
  schemes: ['tcp'],
  validate(url) {
    if (!url.hostname) return 'tcp upstream needs a host: tcp://host:port';
    if (!url.port) return 'tcp upstream needs a port: tcp://host:port';
    return undefined;
  },
  open(ctx: SourceContext<NoOptions>, onData: DataSink) {
    const host = hostOf(ctx.url);
    const port = Number(ctx.url.port);
    return new SocketUpstream({ host, port }, `tcp ${ctx.url.host}`, onData);
  },
};
