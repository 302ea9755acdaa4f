// Turns an arbitrary byte stream into whole, aligned 188-byte TS packets, losslessly
// around inserted garbage. The rule and its limits are explained in docs/architecture.md
// ("Alignment"); in short:
//
// - A *lock point* is a position p holding the sync byte 0x47 at p, p+P and p+2P, for a
//   packet size P of 188, 192 (M2TS: 4-byte timestamp before each packet) or 204 (188 +
//   16 bytes of Reed-Solomon parity after it). The first lock of a connection needs five
//   sync bytes a packet apart (random bytes would offer a triple every ~20 KB) and
//   detects the size, which is kept for the connection.
// - Locked on a candidate packet at c, the packet is passed on when c+P is a lock point
//   (the ordinary case: the stream goes on right after it). Otherwise the stream breaks
//   after c, and c is passed on unless a lock point inside it, (c, c+P), proves that a
//   real packet started before c could end: only a packet really cut short is dropped.
// - Two sync-pattern ambiguities are settled by the PID: a lock point inside c counts as
//   proof of a cut only when its PID is one this connection has carried (otherwise it is
//   the next packet's sync pattern projected back onto c's payload, or garbage), and a
//   packet at the end of a run that is not itself a lock point is passed on only with a
//   PID already carried (garbage starting with 0x47 right after a packet looks like one).
//   Re-locking after garbage likewise needs a carried PID.
//
// Runs of whole 188-byte packets are handed on as views of the upstream's chunk without
// copying; only the bytes still undecided at the end of a chunk (at most three packets)
// are kept for the next one. 192/204-byte packets are copied into 188-byte ones.

import { PACKET_SIZES, TS_PACKET_SIZE } from './packet.js';
const MAX_P = Math.max(...PACKET_SIZES);
const SYNC = 0x47;
/** Sync bytes a packet apart for the first lock of a connection (a re-lock: a lock point, 3). */
const FIRST_LOCK = 5;
/** Look-ahead a search position needs: a first lock of the largest size. */
const SEARCH = (FIRST_LOCK - 1) * MAX_P + 1;
/** Packets copied per sink call when converting 192/204-byte input. */
const CONVERT_BATCH = 64;

/**
 * Receives `count` aligned 188-byte packets starting at `offset` of `buf`. The buffer is
 * only valid during the call: a sink that keeps data must copy it.
 */
export type PacketSink = (buf: Buffer, offset: number, count: number) => void;

/** Called when the aligner locks (first lock, and again after garbage). Not per packet. */
export type LockListener = (packetSize: number, relock: boolean) => void;

/**
 * Called when the locked stream breaks, before the bytes concerned are dropped (not per
 * packet): `lost` true when the packet grid is lost and searched for again, false when a
 * packet was cut short and the grid regained at once (a missing sync byte).
 */
export type SyncBreakListener = (lost: boolean) => void;

export class TsAligner {
  /** Bytes thrown away: garbage, and packets cut short. */
  discardedBytes = 0;
  /** Times the stream broke after having been locked (garbage or a cut packet). */
  syncLosses = 0;
  /** Packets passed on (188-byte packets). */
  packets = 0;
  /** Locks acquired (the first one of a connection included). */
  locks = 0;
  private locked = false;
  private everLocked = false;
  /** Packet size in use: 188, 192 or 204; 0 before the first lock. */
  private size = 0;
  private readonly tail = Buffer.alloc(2 * SEARCH + MAX_P);
  private tailLen = 0;
  /** PIDs carried since the last reset (1 = seen), and how many. */
  private readonly pids = new Uint8Array(8192);
  private pidCount = 0;
  private convert: Buffer | undefined;

  constructor(private readonly sink: PacketSink, private readonly onLock?: LockListener, private readonly onBreak?: SyncBreakListener) {}

  get isLocked(): boolean { return this.locked; }
  /** The detected packet size (188, 192, 204), or 0 before any lock. */
  get packetSize(): number { return this.size; }

  push(chunk: Buffer): void {
    let pos = 0;
    if (this.tailLen > 0) {
      // Decide the kept bytes with just enough of the new chunk copied behind them; then
      // go on in the chunk itself, so its runs are passed on without copying.
      const tl = this.tailLen;
      const n = Math.min(chunk.length, SEARCH + MAX_P);
      chunk.copy(this.tail, tl, 0, n);
      const end = tl + n;
      let stop = this.process(this.tail, 0, end, tl);
      if (n === chunk.length) {
        // The whole chunk is here: finish in the kept buffer.
        stop = this.process(this.tail, stop, end, Infinity);
        if (stop < end) this.tail.copyWithin(0, stop, end);
        this.tailLen = end - stop;
        return;
      }
      // With n >= SEARCH bytes copied, every kept byte is decided (stop >= tl).
      pos = stop - tl;
    }
    const stop = this.process(chunk, pos, chunk.length, Infinity);
    this.tailLen = chunk.length - stop;
    if (this.tailLen > 0) chunk.copy(this.tail, 0, stop, chunk.length);
  }

  /** Forget everything about the previous connection (upstream switch). */
  reset(): void {
    this.locked = false;
    this.everLocked = false;
    this.tailLen = 0;
    if (this.pidCount > 0) this.pids.fill(0);
    this.pidCount = 0;
  }

  /**
   * End of input: the packets still waiting for their look-ahead are passed on when they
   * are whole and followed by a sync byte, or end exactly where the input ends.
   */
  flushEnd(): void {
    const b = this.tail;
    const end = this.tailLen;
    let c = 0;
    if (this.locked) {
      const P = this.size;
      while (c + TS_PACKET_SIZE <= end && b[c] === SYNC
        && (c + P === end || c + TS_PACKET_SIZE === end || (c + P < end && b[c + P] === SYNC))) {
        this.markPid(b, c);
        this.emit(b, c, 1, P);
        c += P;
      }
    }
    this.discardedBytes += Math.max(0, end - c);
    this.tailLen = 0;
    this.locked = false;
  }

  /**
   * Run the state machine over b[pos, end). Returns where it stopped: at `limit` or
   * beyond (only when called on the kept bytes), or at the first byte it cannot decide
   * without more data. Every decision looks at a fixed window after its position, so the
   * outcome does not depend on how the input was split into chunks.
   */
  private process(b: Buffer, pos: number, end: number, limit: number): number {
    while (pos < limit) {
      if (!this.locked) {
        const need = this.searchNeed();
        const found = this.search(b, pos, end, need);
        if (found < 0) {
          const stop = Math.max(pos, end - need + 1);
          this.discardedBytes += stop - pos;
          return stop;
        }
        this.discardedBytes += found - pos;
        pos = found;
        continue;
      }
      const P = this.size;
      let c = pos;
      if (c + 3 * P >= end) return c;
      // Ordinary case: the next lock point is right after the packet.
      const runStart = c;
      while (c < limit && c + 3 * P < end && b[c + P] === SYNC && b[c + 2 * P] === SYNC && b[c + 3 * P] === SYNC) {
        this.markPid(b, c);
        c += P;
      }
      if (c > runStart) this.emit(b, runStart, (c - runStart) / P, P);
      pos = c;
      if (c >= limit || c + 3 * P >= end) continue;
      // The stream breaks after c. A plausible lock point inside c proves a cut.
      let cut = -1;
      for (let l = b.indexOf(SYNC, c + 1); l >= 0 && l < c + P; l = b.indexOf(SYNC, l + 1)) {
        if (b[l + P] === SYNC && b[l + 2 * P] === SYNC && this.plausible(b, l)) { cut = l; break; }
      }
      if (cut >= 0) {
        this.onBreak?.(false);
        this.discardedBytes += cut - c;
        this.syncLosses++;
        pos = cut;
        continue;
      }
      const isLockPoint = b[c + P] === SYNC && b[c + 2 * P] === SYNC;
      if (isLockPoint || this.plausible(b, c)) {
        this.markPid(b, c);
        this.emit(b, c, 1, P);
      } else {
        this.discardedBytes += P;
      }
      pos = c + P;
      if (b[pos] !== SYNC) {
        this.onBreak?.(true);
        this.locked = false;
        this.syncLosses++;
      }
    }
    return pos;
  }

  /**
   * First lock point at or after `pos` whose look-ahead is present, trying the current
   * packet size first; -1 if none. Locks there.
   */
  /** Look-ahead of a search position: a first lock of any size, or a lock point of this size. */
  private searchNeed(): number {
    return this.everLocked ? 2 * this.size + 1 : SEARCH;
  }

  private search(b: Buffer, pos: number, end: number, need: number): number {
    const last = end - need; // last position whose whole look-ahead is present
    for (let i = b.indexOf(SYNC, pos); i >= 0 && i <= last; i = b.indexOf(SYNC, i + 1)) {
      if (this.everLocked) {
        // The size is kept for the connection: trying the others after garbage would
        // only multiply the chances of a false lock.
        const P = this.size;
        if (b[i + P] === SYNC && b[i + 2 * P] === SYNC && this.plausible(b, i)) return this.lock(P, i);
        continue;
      }
      for (const q of PACKET_SIZES) {
        let k = 1;
        while (k < FIRST_LOCK && b[i + k * q] === SYNC) k++;
        if (k === FIRST_LOCK) return this.lock(q, i);
      }
    }
    return -1;
  }

  private lock(size: number, at: number): number {
    const relock = this.everLocked;
    this.locked = true;
    this.everLocked = true;
    this.size = size;
    this.locks++;
    this.onLock?.(size, relock);
    return at;
  }

  /** Before any packet of this connection every PID is plausible; after, only those carried. */
  private plausible(b: Buffer, at: number): boolean {
    return this.pidCount === 0 || this.pids[((b[at + 1]! & 0x1f) << 8) | b[at + 2]!] === 1;
  }

  private markPid(b: Buffer, at: number): void {
    const pid = ((b[at + 1]! & 0x1f) << 8) | b[at + 2]!;
    if (this.pids[pid] === 0) { this.pids[pid] = 1; this.pidCount++; }
  }

  private emit(b: Buffer, at: number, count: number, P: number): void {
    this.packets += count;
    if (P === TS_PACKET_SIZE) { this.sink(b, at, count); return; }
    // 192/204: the 188-byte packet starts at the sync byte; the timestamp (before it) or
    // the parity (after it) is left out.
    const out = (this.convert ??= Buffer.alloc(CONVERT_BATCH * TS_PACKET_SIZE));
    while (count > 0) {
      const n = Math.min(count, CONVERT_BATCH);
      for (let k = 0; k < n; k++) b.copy(out, k * TS_PACKET_SIZE, at + k * P, at + k * P + TS_PACKET_SIZE);
      this.sink(out, 0, n);
      at += n * P;
      count -= n;
    }
  }
}
