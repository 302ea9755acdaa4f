import { TS_PACKET_SIZE } from '../ts/packet.js';

/**
 * A preallocated ring of TS packets with a single writer. Positions are absolute packet
 * indices (a JS number stays exact for 2^53 packets: centuries at any bitrate), so a
 * reader is just an index and "how far behind" is a subtraction.
 */
export class PacketRing {
  capacity: number;
  private buf: Buffer;
  /** Absolute index of the next packet to be written (= packets written so far). */
  head = 0;
  /** No packet before this index is held: set by resize(), whose new slots start empty. */
  private floor = 0;

  constructor(capacityPackets: number) {
    if (!Number.isInteger(capacityPackets) || capacityPackets < 1) throw new RangeError('ring capacity must be a positive integer');
    this.capacity = capacityPackets;
    this.buf = Buffer.alloc(capacityPackets * TS_PACKET_SIZE);
  }

  /** Oldest absolute index still held. */
  get tail(): number {
    return Math.max(this.floor, this.head - this.capacity);
  }

  /** Copy `count` packets from src[offset..] into the ring. */
  write(src: Buffer, offset: number, count: number): void {
    if (count > this.capacity) {
      // Only the newest `capacity` packets can be kept.
      const skip = count - this.capacity;
      this.head += skip;
      offset += skip * TS_PACKET_SIZE;
      count = this.capacity;
    }
    let slot = this.head % this.capacity;
    let remaining = count;
    while (remaining > 0) {
      const n = Math.min(remaining, this.capacity - slot);
      src.copy(this.buf, slot * TS_PACKET_SIZE, offset, offset + n * TS_PACKET_SIZE);
      offset += n * TS_PACKET_SIZE;
      remaining -= n;
      slot = 0;
    }
    this.head += count;
  }

  /**
   * A fresh Buffer holding packets [from, to). The caller guarantees tail <= from <= to <= head.
   * A copy, never a view: the kernel may still be sending it when the slot is rewritten.
   */
  copyOut(from: number, to: number): Buffer {
    const out = Buffer.allocUnsafe((to - from) * TS_PACKET_SIZE);
    this.copyInto(from, to, out, 0);
    return out;
  }

  /** Copy packets [from, to) into `out` at byte `at` (same bounds rule as copyOut). */
  copyInto(from: number, to: number, out: Buffer, at: number): void {
    if (from < this.tail || to > this.head || from > to) {
      throw new RangeError(`copy(${from}, ${to}) outside ring [${this.tail}, ${this.head})`);
    }
    let slot = from % this.capacity;
    let remaining = to - from;
    let dst = at;
    while (remaining > 0) {
      const n = Math.min(remaining, this.capacity - slot);
      this.buf.copy(out, dst, slot * TS_PACKET_SIZE, (slot + n) * TS_PACKET_SIZE);
      dst += n * TS_PACKET_SIZE;
      remaining -= n;
      slot = 0;
    }
  }

  /**
   * Call `fn(buf, byteOffset, count)` for the one or two contiguous runs of ring memory
   * holding packets [from, to) (same bounds rule as copyOut), for in-place edits of
   * packets not yet handed out. Nothing is allocated.
   */
  forRuns(from: number, to: number, fn: (buf: Buffer, byteOffset: number, count: number) => void): void {
    if (from < this.tail || to > this.head || from > to) {
      throw new RangeError(`runs(${from}, ${to}) outside ring [${this.tail}, ${this.head})`);
    }
    let slot = from % this.capacity;
    let remaining = to - from;
    while (remaining > 0) {
      const n = Math.min(remaining, this.capacity - slot);
      fn(this.buf, slot * TS_PACKET_SIZE, n);
      remaining -= n;
      slot = 0;
    }
  }

  /** Read-only view of one packet (for analysis; do not hand it to a socket). */
  packetView(index: number): Buffer {
    const slot = index % this.capacity;
    return this.buf.subarray(slot * TS_PACKET_SIZE, (slot + 1) * TS_PACKET_SIZE);
  }

  /**
   * Change the capacity, keeping the newest packets (absolute indices are unchanged, so
   * client cursors stay valid). Rare: used to grow the ring until a whole GOP fits.
   */
  resize(capacityPackets: number): void {
    const from = Math.max(this.tail, this.head - capacityPackets);
    const keep = this.copyOut(from, this.head);
    this.capacity = capacityPackets;
    this.buf = Buffer.alloc(capacityPackets * TS_PACKET_SIZE);
    const savedHead = this.head;
    this.head = from;
    this.floor = from;
    this.write(keep, 0, savedHead - from);
  }
}
