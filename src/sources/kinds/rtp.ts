import { EVT } from '../../log/logger.js';
import { validateDatagramUrl } from '../multicast.js';
import { RTP_NOT_V2, RTP_OK, RtpReorder, newRtpHeader, parseRtp, type ReorderStats } from '../rtp-reorder.js';
import type { DataSink, SourceContext, SourceKind, SourceOptions } from '../source.js';
import { DatagramUpstream, type DatagramOptions } from '../datagram.js';

// rtp://... : the udp addressing (unicast, GROUP:PORT, SOURCE@GROUP:PORT) with the RTP
// header removed and the datagrams put back in sequence order within a small window
// (resource key `rtpreorder`, in datagrams) before the aligner sees them.

export interface RtpStats extends ReorderStats {
  /** Datagrams whose version field is not 2 (dropped). */
  notV2: number;
  /** Datagrams too short for the header they announce (dropped). */
  malformed: number;
  /** Times the sender's SSRC changed (sequence state reset). */
  ssrcChanges: number;
}

export class RtpUpstream extends DatagramUpstream {
  /** RTP counters; the same object for the upstream's whole life (publish by reading it). */
  readonly rtp: RtpStats = {
    received: 0, delivered: 0, lost: 0, reordered: 0, duplicates: 0, late: 0, resyncs: 0,
    notV2: 0, malformed: 0, ssrcChanges: 0,
  };
  private readonly hdr = newRtpHeader();
  private readonly reorder: RtpReorder<Buffer>;
  private ssrc = -1;

  constructor(ctx: SourceContext<DatagramOptions>, onData: DataSink, window: number) {
    super(ctx, onData);
    this.reorder = new RtpReorder<Buffer>(window, (payload) => { if (payload.length > 0) this.onData(payload); }, this.rtp);
  }

  protected override deliver(msg: Buffer): void {
    const h = this.hdr;
    const r = parseRtp(msg, h);
    if (r !== RTP_OK) {
      if (r === RTP_NOT_V2) {
        this.rtp.notV2++;
        this.summary.first('notV2', { byte0: msg[0] }, 'datagram is not RTP version 2: dropped (is the sender plain UDP? use udp://)');
      } else {
        this.rtp.malformed++;
        this.summary.first('malformed', { size: msg.length }, 'malformed RTP datagram dropped');
      }
      return;
    }
    if (h.ssrc !== this.ssrc) {
      if (this.ssrc !== -1) {
        this.rtp.ssrcChanges++;
        this.log.info({ evt: EVT.upstreamInfo, ssrc: h.ssrc, previous: this.ssrc }, 'RTP sender changed (new SSRC): sequence restarted');
        this.reorder.reset();
      }
      this.ssrc = h.ssrc;
    }
    this.reorder.push(h.seq, msg.subarray(h.offset, h.end));
  }

  protected override faultCounters(): Record<string, number> {
    const r = this.rtp;
    return { oversize: this.stats.oversize, notV2: r.notV2, malformed: r.malformed, lost: r.lost, late: r.late, duplicates: r.duplicates, reordered: r.reordered, resyncs: r.resyncs };
  }
}

/** What rtp:// reads from the resource: the datagram options and the reorder window. */
export type RtpOptions = DatagramOptions & Pick<SourceOptions, 'rtpReorder'>;

export const rtpKind: SourceKind<RtpOptions> = {
  schemes: ['rtp'],
  validate: validateDatagramUrl,
  open(ctx: SourceContext<RtpOptions>, onData: DataSink) {
    return new RtpUpstream(ctx, onData, ctx.options.rtpReorder).start();
  },
};
