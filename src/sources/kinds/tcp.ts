import { SocketUpstream } from '../socket.js';
import type { DataSink, NoOptions, SourceContext, SourceKind } from '../source.js';

// tcp://host:port: a TCP connection; its bytes are the stream.

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
