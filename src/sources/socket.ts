import net from 'node:net';
import { fromSystemError } from '../errors.js';
import { UpstreamBase } from './base.js';
import type { DataSink } from './source.js';

/**
 * A stream socket upstream (TCP or Unix): connected on 'connect', bytes straight to the
 * sink, a clean end of stream finishes without error. Shared by kinds/tcp.ts and kinds/unix.ts.
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
