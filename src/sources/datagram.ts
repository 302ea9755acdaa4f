import dgram from 'node:dgram';
import { RestreamerError, fromSystemError } from '../errors.js';
import { EVT, type Logger } from '../log/logger.js';
import { FaultSummary } from '../log/faults.js';
import { TS_PACKET_SIZE } from '../ts/packet.js';
import { UpstreamBase } from './base.js';
import { multicastInterface, parseDatagramUrl, type DatagramAddress } from './multicast.js';
import type { DataSink, SourceContext, SourceOptions } from './source.js';

// The UDP socket upstream behind udp:// and rtp:// (kinds/udp.ts, kinds/rtp.ts), and the
// receive-buffer sizing the unixgram kind shares. Each datagram's payload goes to the
// sink as it is; the aligner downstream cuts it into packets (1316 bytes = 7 packets).
// A datagram socket has no connection: it counts as connected at its first datagram (a
// bound socket or a joined group proves nothing). A silent group runs into the
// supervisor's readtimeout, before or after that first datagram, which closes the socket
// (leave) and opens a new one (re-join): a membership lost upstream cannot go unnoticed.

/** What udp:// (and rtp://) read from the resource: the largest datagram, the multicast interface. */
export type DatagramOptions = Pick<SourceOptions, 'mru' | 'clientInterface'>;

export interface DatagramStats {
  /** Datagrams received, oversized ones included. */
  datagrams: number;
  /** Bytes of the datagrams passed on. */
  bytes: number;
  /** Datagrams larger than `mru`: dropped whole, never cut. */
  oversize: number;
  /** Socket receive buffer the kernel granted, bytes (0 until bound). */
  recvBufferBytes: number;
}

/** The receive buffer wanted for `inputbuffer` packets, and a warning when the kernel grants less. */
export function sizeRecvBuffer(log: Logger, packets: number, set: (n: number) => void, get: () => number): number {
  const want = packets * TS_PACKET_SIZE;
  try {
    set(want);
  } catch (e) {
    log.warn({ evt: EVT.warning, requested: want, err: (e as Error).message }, 'could not set the socket receive buffer');
  }
  let granted = 0;
  try { granted = get(); } catch { /* not bound: leave 0 */ }
  // Linux reports twice the usable size it reserved, capped by net.core.rmem_max.
  if (granted < want) {
    log.warn({ evt: EVT.upstreamInfo, requested: want, granted }, 'the kernel granted a smaller receive buffer than inputbuffer x 188 (raise net.core.rmem_max)');
  }
  return granted;
}

/** A UDP socket upstream (unicast, multicast, SSM); kinds/rtp.ts extends it and overrides deliver(). */
export class DatagramUpstream extends UpstreamBase {
  readonly stats: DatagramStats = { datagrams: 0, bytes: 0, oversize: 0, recvBufferBytes: 0 };
  override readonly connectsOnData = true;
  /** Resolves once the socket is bound (and joined); never rejects (see `connected`). */
  readonly ready: Promise<void>;
  private resolveBound!: () => void;
  protected readonly log: Logger;
  protected readonly summary: FaultSummary;
  private readonly mru: number;
  private socket: dgram.Socket | undefined;
  private joined: { group: string; source: string | undefined; iface: string | undefined } | undefined;

  constructor(protected readonly ctx: SourceContext<DatagramOptions>, protected readonly onData: DataSink) {
    super();
    this.log = ctx.log;
    this.mru = ctx.options.mru;
    this.summary = new FaultSummary(this.log, () => this.faultCounters());
    this.ready = new Promise((res) => { this.resolveBound = res; });
  }

  /** Bind (and join); separate from the constructor so subclasses are fully built first. */
  start(): this {
    let addr: DatagramAddress;
    let iface: string | undefined;
    try {
      addr = parseDatagramUrl(this.ctx.url);
      iface = addr.multicast ? multicastInterface(this.ctx.options.clientInterface, addr.family) : undefined;
      if (addr.family === 6 && addr.multicast && /^ff[0-9a-f][12]:/i.test(addr.host) && !iface?.startsWith('::%')) {
        throw new RestreamerError('UPSTREAM_INTERFACE', `IPv6 group ${addr.host} has interface- or link-local scope: set "clientinterface" to the name of the interface to join it on`);
      }
    } catch (e) {
      this.finish(e instanceof RestreamerError ? e : new RestreamerError('UPSTREAM_UNSUPPORTED', (e as Error).message));
      return this;
    }
    const s = dgram.createSocket({ type: addr.family === 6 ? 'udp6' : 'udp4', reuseAddr: true });
    this.socket = s;
    s.on('error', (e) => this.finish(fromSystemError(e, `${this.ctx.url.protocol}//${this.ctx.url.host}`)));
    s.on('message', (msg) => this.onMessage(msg));
    // Bound to the group address, Linux delivers only that group's datagrams to us, even
    // when another stream listens on the same port for another group. An IPv6 group is
    // bound with the interface as its zone: link-local-scope groups (ff02::, ff12::, ...)
    // cannot be bound without one.
    const zone = addr.family === 6 && iface?.startsWith('::%') ? iface.slice(2) : '';
    s.bind({ port: addr.port, address: addr.host + zone }, () => this.onBound(s, addr, iface));
    return this;
  }

  private onBound(s: dgram.Socket, addr: DatagramAddress, iface: string | undefined): void {
    if (this.isDone) return;
    this.stats.recvBufferBytes = sizeRecvBuffer(this.log, this.ctx.inputBufferPackets, (n) => s.setRecvBufferSize(n), () => s.getRecvBufferSize());
    if (addr.multicast) {
      try {
        if (addr.source) s.addSourceSpecificMembership(addr.source, addr.host, iface);
        else s.addMembership(addr.host, iface);
      } catch (e) {
        const what = `join ${addr.source ? `${addr.source}@` : ''}${addr.host}${iface ? ` on ${iface}` : ''}`;
        this.finish(fromSystemError(e, what));
        return;
      }
      this.joined = { group: addr.host, source: addr.source, iface };
      this.log.info({ evt: EVT.multicastJoin, group: addr.host, source: addr.source, port: addr.port, interface: this.ctx.options.clientInterface || undefined }, 'joined multicast group');
    }
    this.summary.start();
    this.resolveBound();
  }

  private onMessage(msg: Buffer): void {
    if (this.isDone) return;
    if (this.stats.datagrams++ === 0) this.markConnected();
    if (msg.length > this.mru) {
      this.stats.oversize++;
      this.summary.first('oversize', { size: msg.length, mru: this.mru }, 'datagram larger than mru dropped (raise the resource\'s "mru")');
      return;
    }
    this.stats.bytes += msg.length;
    this.deliver(msg);
  }

  /** One accepted datagram. */
  protected deliver(msg: Buffer): void {
    this.onData(msg);
  }

  /** Cumulative fault counters for the periodic summary. */
  protected faultCounters(): Record<string, number> {
    return { oversize: this.stats.oversize };
  }

  protected teardown(): void {
    this.summary.stop();
    const s = this.socket;
    this.socket = undefined;
    if (!s) return;
    const j = this.joined;
    this.joined = undefined;
    if (j) {
      // Closing would drop the membership too; doing it explicitly makes the leave visible.
      try {
        if (j.source) s.dropSourceSpecificMembership(j.source, j.group, j.iface);
        else s.dropMembership(j.group, j.iface);
      } catch { /* socket already unusable: close() below releases it */ }
      this.log.info({ evt: EVT.multicastLeave, group: j.group, source: j.source, datagrams: this.stats.datagrams }, 'left multicast group');
    }
    try { s.close(); } catch { /* already closed */ }
  }
}
