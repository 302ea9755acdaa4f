// Turns an arbitrary byte stream into whole, aligned 188-byte TS packets.
//
// Lock: a position is accepted only when `lockCount` sync bytes (0x47) stand one packet
// apart, so a stray 0x47 in garbage cannot capture the stream. Once locked, each packet's
// first byte is checked; a miss drops the lock and the search starts again at that byte.
// Aligned runs are handed on without copying; only a packet split across reads is
// assembled in a small carry buffer.

export const TS_PACKET_SIZE = 188;
const SYNC = 0x47;

/**
 * Receives `count` aligned packets starting at `offset` of `buf`. The buffer is only
 * valid during the call: a sink that keeps data must copy it.
 */
export type PacketSink = (buf: Buffer, offset: number, count: number) => void;

export class TsAligner {
  /** Bytes thrown away: garbage, and packets cut short by a loss of sync. */
  discardedBytes = 0;
  /** Times the lock was lost after having been acquired. */
  syncLosses = 0;
  private locked = false;
  private readonly carry = Buffer.alloc(TS_PACKET_SIZE);
  private carryLen = 0;
  /** Unlocked: bytes kept from the previous read that might still begin a lockable run. */
  private pending: Buffer | undefined;

  constructor(private readonly sink: PacketSink, private readonly lockCount = 3) {
    if (lockCount < 1) throw new RangeError('lockCount must be >= 1');
  }

  get isLocked(): boolean { return this.locked; }

  push(chunk: Buffer): void {
    let buf = chunk;
    let pos = 0;
    for (;;) {
      if (this.locked) {
        pos = this.pushLocked(buf, pos);
        if (this.locked) return;
        // Lock lost at `pos` (a byte that is not a sync byte): search from there.
      }
      const found = this.search(buf, pos);
      if (found === undefined) return;
      buf = found;
      pos = 0;
    }
  }

  /** Forget any partial packet and the lock (upstream switch). */
  reset(): void {
    this.locked = false;
    this.carryLen = 0;
    this.pending = undefined;
  }

  /**
   * A packet is passed on only once the byte after it is seen to be a sync byte too, so
   * a packet cut short by garbage is never emitted. The last packet of a read therefore
   * waits in `carry` for the next read. Returns where processing stopped; `locked` tells
   * whether sync was lost there.
   */
  private pushLocked(buf: Buffer, pos: number): number {
    const len = buf.length;
    if (this.carryLen > 0) {
      const n = Math.min(TS_PACKET_SIZE - this.carryLen, len - pos);
      buf.copy(this.carry, this.carryLen, pos, pos + n);
      this.carryLen += n;
      pos += n;
      if (this.carryLen < TS_PACKET_SIZE || pos === len) return pos;
      this.carryLen = 0;
      if (buf[pos] !== SYNC) {
        // The assembled packet is not followed by a sync byte: search again from its
        // second byte (a real packet may start inside it).
        this.discardedBytes += 1;
        this.pending = Buffer.from(this.carry.subarray(1));
        return this.loseLock(pos);
      }
      this.sink(this.carry, 0, 1);
    }
    const runStart = pos;
    while (pos + TS_PACKET_SIZE < len && buf[pos] === SYNC && buf[pos + TS_PACKET_SIZE] === SYNC) pos += TS_PACKET_SIZE;
    if (pos > runStart) this.sink(buf, runStart, (pos - runStart) / TS_PACKET_SIZE);
    if (pos === len) return pos;
    if (buf[pos] !== SYNC) return this.loseLock(pos);
    if (pos + TS_PACKET_SIZE < len) {
      // This packet is not followed by a sync byte: suspect. Search from its second byte.
      this.discardedBytes += 1;
      return this.loseLock(pos + 1);
    }
    // At most one packet left: keep it until the next read confirms it.
    buf.copy(this.carry, 0, pos, len);
    this.carryLen = len - pos;
    return len;
  }

  /** End of input: pass on a complete packet still waiting for confirmation. */
  flushEnd(): void {
    if (this.locked && this.carryLen === TS_PACKET_SIZE) this.sink(this.carry, 0, 1);
    this.carryLen = 0;
  }

  private loseLock(pos: number): number {
    this.locked = false;
    this.syncLosses++;
    return pos;
  }

  /**
   * Look for a lockable position in pending + buf[pos..]. Returns the buffer to continue
   * with (starting at the lock point) or undefined when more data is needed.
   */
  private search(buf: Buffer, pos: number): Buffer | undefined {
    let data: Buffer;
    if (this.pending) {
      data = Buffer.concat([this.pending, buf.subarray(pos)]);
      this.pending = undefined;
    } else {
      data = pos === 0 ? buf : buf.subarray(pos);
    }
    const span = (this.lockCount - 1) * TS_PACKET_SIZE;
    const last = data.length - span - 1; // last start whose confirming bytes are present
    for (let i = 0; i <= last; i++) {
      if (data[i] !== SYNC) continue;
      let ok = true;
      for (let k = 1; k < this.lockCount; k++) {
        if (data[i + k * TS_PACKET_SIZE] !== SYNC) { ok = false; break; }
      }
      if (ok) {
        this.discardedBytes += i;
        this.locked = true;
        return data.subarray(i);
      }
    }
    // Undecided: keep the tail that could still start a lockable run.
    const keepFrom = Math.max(0, last + 1);
    this.discardedBytes += keepFrom;
    if (keepFrom < data.length) this.pending = Buffer.from(data.subarray(keepFrom));
    return undefined;
  }
}
