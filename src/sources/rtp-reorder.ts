// Pure RTP code (no I/O): header parsing and a sequence-number reorder window.
// RFC 3550 section 5.1 for the header; the "dropout"/"misorder" limits follow its
// appendix A.1 so a restarted sender resynchronises instead of counting 60000 losses.

/** Parse outcome codes (numbers, so the hot path allocates nothing). */
export const RTP_OK = 0;
/** Shorter than the fixed 12-byte header, or the CSRC list / extension / padding runs past the end. */
export const RTP_MALFORMED = 1;
/** Version field is not 2: not RTP (or an old RTP); the datagram is dropped. */
export const RTP_NOT_V2 = 2;

/** Filled in by parseRtp; reuse one instance per socket. */
export interface RtpHeader {
  seq: number;
  payloadType: number;
  marker: boolean;
  timestamp: number;
  ssrc: number;
  /** Payload is buf[offset, end): header, CSRCs, extension and padding removed. */
  offset: number;
  end: number;
}

export function newRtpHeader(): RtpHeader {
  return { seq: 0, payloadType: 0, marker: false, timestamp: 0, ssrc: 0, offset: 0, end: 0 };
}

/** Parse the RTP header of `buf` into `out`; returns RTP_OK, RTP_MALFORMED or RTP_NOT_V2. */
export function parseRtp(buf: Uint8Array, out: RtpHeader): number {
  const len = buf.length;
  if (len < 12) return RTP_MALFORMED;
  const b0 = buf[0]!;
  if (b0 >> 6 !== 2) return RTP_NOT_V2;
  const padding = (b0 & 0x20) !== 0;
  const extension = (b0 & 0x10) !== 0;
  const csrcCount = b0 & 0x0f;
  let offset = 12 + 4 * csrcCount;
  if (extension) {
    if (offset + 4 > len) return RTP_MALFORMED;
    const words = (buf[offset + 2]! << 8) | buf[offset + 3]!;
    offset += 4 + 4 * words;
  }
  let end = len;
  if (padding) {
    const pad = buf[len - 1]!;
    if (pad === 0) return RTP_MALFORMED;
    end -= pad;
  }
  if (offset > end) return RTP_MALFORMED;
  const b1 = buf[1]!;
  out.marker = (b1 & 0x80) !== 0;
  out.payloadType = b1 & 0x7f;
  out.seq = (buf[2]! << 8) | buf[3]!;
  out.timestamp = ((buf[4]! << 24) | (buf[5]! << 16) | (buf[6]! << 8) | buf[7]!) >>> 0;
  out.ssrc = ((buf[8]! << 24) | (buf[9]! << 16) | (buf[10]! << 8) | buf[11]!) >>> 0;
  out.offset = offset;
  out.end = end;
  return RTP_OK;
}

export interface ReorderStats {
  /** Packets handed to the reorder buffer. */
  received: number;
  /** Packets released in sequence order. */
  delivered: number;
  /** Sequence numbers given up on (never arrived within the window): lost datagrams. */
  lost: number;
  /** Packets that arrived out of order and were put back in order by the window. */
  reordered: number;
  /** Packets whose sequence number had already been delivered or buffered. */
  duplicates: number;
  /** Packets that arrived after the window had given up on them (dropped). */
  late: number;
  /** Sequence jumps treated as a sender restart (state reset, no loss counted). */
  resyncs: number;
}

/** A jump forward larger than this is a sender restart, not a loss (RFC 3550 MAX_DROPOUT). */
const MAX_DROPOUT = 3000;
/** A packet further behind than this may be a restarted sender (RFC 3550 MAX_MISORDER). */
const MAX_MISORDER = 100;

export type ReleaseFn<T> = (item: T) => void;

/**
 * Puts packets back in RTP sequence order. A missing sequence number is waited for
 * until a packet `window` or more ahead of it arrives (at most window-1 packets are
 * held); then it is counted lost and the held packets are released. Storage is
 * preallocated: a power-of-two slot array (so `seq & mask` is stable across the 16-bit
 * wrap) plus a 64 Ki-bit map of delivered numbers to tell duplicates from late packets.
 */
export class RtpReorder<T> {
  readonly window: number;
  /** Counters; pass an object to the constructor to have them kept in a larger stats record. */
  readonly stats: ReorderStats;
  private readonly mask: number;
  private readonly slots: (T | undefined)[];
  private readonly slotSeq: Int32Array;
  private readonly delivered = new Uint8Array(65536 / 8);
  private next = -1;
  private held = 0;
  private badSeq = -1;

  constructor(window: number, private readonly release: ReleaseFn<T>, stats?: ReorderStats) {
    this.stats = stats ?? { received: 0, delivered: 0, lost: 0, reordered: 0, duplicates: 0, late: 0, resyncs: 0 };
    if (!Number.isInteger(window) || window < 1 || window > 1024) throw new RangeError(`reorder window must be 1..1024, got ${window}`);
    this.window = window;
    let cap = 1;
    while (cap < window) cap <<= 1;
    this.mask = cap - 1;
    this.slots = new Array<T | undefined>(cap).fill(undefined);
    this.slotSeq = new Int32Array(cap).fill(-1);
  }

  /** Packets currently held back waiting for a missing one. */
  get pending(): number { return this.held; }

  push(seq: number, item: T): void {
    seq &= 0xffff;
    this.stats.received++;
    if (this.next < 0) { this.next = seq; this.badSeq = -1; }
    const d = (seq - this.next) & 0xffff;
    if (d === 0) {
      if (this.held > 0) this.stats.reordered++;
      this.emit(seq, item);
      this.drain();
      return;
    }
    if (d < 0x8000) {
      if (d > MAX_DROPOUT) { this.resync(seq, item); return; }
      if (d >= this.window) this.advanceTo((seq - this.window + 1) & 0xffff);
      this.hold(seq, item);
      this.drain();
      return;
    }
    // Behind the next expected number.
    const back = 0x10000 - d;
    if (back > MAX_MISORDER) {
      // Two consecutive far-behind packets in sequence: the sender restarted.
      if (seq === this.badSeq) { this.resync(seq, item); return; }
      this.badSeq = (seq + 1) & 0xffff;
    }
    if (this.isDelivered(seq)) this.stats.duplicates++;
    else this.stats.late++;
  }

  /** Release everything held, in order, counting the holes as lost (end of stream). */
  flush(): void {
    while (this.held > 0) {
      const s = this.next;
      const i = s & this.mask;
      if (this.slotSeq[i] === s) this.take(i, s);
      else { this.stats.lost++; this.markDelivered(s, false); this.next = (s + 1) & 0xffff; }
    }
  }

  /** Forget the sequence state (new sender / SSRC): held packets are released first. */
  reset(): void {
    this.flush();
    this.next = -1;
    this.badSeq = -1;
  }

  private resync(seq: number, item: T): void {
    this.stats.resyncs++;
    this.flush();
    this.delivered.fill(0);
    this.next = seq;
    this.badSeq = -1;
    this.emit(seq, item);
  }

  private hold(seq: number, item: T): void {
    const i = seq & this.mask;
    if (this.slotSeq[i] === seq) { this.stats.duplicates++; return; }
    this.slots[i] = item;
    this.slotSeq[i] = seq;
    this.held++;
  }

  /** Give up on every number before `target`: release held ones, count the rest lost. */
  private advanceTo(target: number): void {
    let gap = (target - this.next) & 0xffff;
    while (gap > 0 && this.held > 0) {
      const s = this.next;
      const i = s & this.mask;
      if (this.slotSeq[i] === s) this.take(i, s);
      else { this.stats.lost++; this.markDelivered(s, false); this.next = (s + 1) & 0xffff; }
      gap--;
    }
    // Nothing held any more: the remaining numbers are a plain hole.
    if (gap > 0) {
      this.stats.lost += gap;
      for (let k = 0, s = this.next; k < gap && k < MAX_DROPOUT; k++, s = (s + 1) & 0xffff) this.markDelivered(s, false);
      this.next = target;
    }
  }

  private drain(): void {
    while (this.held > 0) {
      const s = this.next;
      const i = s & this.mask;
      if (this.slotSeq[i] !== s) return;
      this.take(i, s);
    }
  }

  private take(i: number, s: number): void {
    const item = this.slots[i] as T;
    this.slots[i] = undefined;
    this.slotSeq[i] = -1;
    this.held--;
    this.emit(s, item);
  }

  private emit(seq: number, item: T): void {
    this.markDelivered(seq, true);
    this.next = (seq + 1) & 0xffff;
    this.stats.delivered++;
    this.release(item);
  }

  private isDelivered(seq: number): boolean {
    return (this.delivered[seq >> 3]! & (1 << (seq & 7))) !== 0;
  }

  /** Set or clear `seq`, and clear the number half a cycle ahead so old marks never look current. */
  private markDelivered(seq: number, on: boolean): void {
    const far = (seq + 0x8000) & 0xffff;
    this.delivered[far >> 3]! &= ~(1 << (far & 7));
    if (on) this.delivered[seq >> 3]! |= 1 << (seq & 7);
    else this.delivered[seq >> 3]! &= ~(1 << (seq & 7));
  }
}
