import type { DataSink, NoOptions, SourceContext, SourceKind } from '../source.js';
import { SocketUpstream } from '../socket.js';

// unix:///path/to.sock: a stream-oriented Unix domain socket (datagram and seqpacket
// sockets are separate kinds: ./unixgram.ts).

function socketPath(url: URL): string {
  return decodeURIComponent(url.pathname);
}

export const unixKind: SourceKind<NoOptions> = {
  schemes: ['unix'],
  validate(url) {
    if (url.hostname) return `unix upstream takes an absolute path: unix:///path/to.sock (got host "${url.hostname}")`;
    if (!url.pathname || url.pathname === '/') return 'unix upstream needs a socket path: unix:///path/to.sock';
    return undefined;
  },
  open(ctx: SourceContext<NoOptions>, onData: DataSink) {
    const path = socketPath(ctx.url);
    return new SocketUpstream({ path }, `unix ${path}`, onData);
  },
};
