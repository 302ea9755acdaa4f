// Continuity counters that run on across a join: the restart of a looped file, or the
// switch to another upstream. Each PID keeps the counter it last sent; at a join, the
// first packet of each PID fixes an offset (mod 16) that makes it follow on from there,
// and every later packet of that PID in the same session is shifted by that offset. So
// what the source does within a session (a real loss, a legal duplicate, adaptation-only
// packets that repeat the counter) is kept exactly; only the join itself disappears.
// Pure and allocation-free per packet (typed arrays indexed by PID).

import { NULL_PID, PID_COUNT, SYNC_BYTE } from './packet.js';

export class CcContinuer {
  /** Counter last written per PID, -1 while the PID has not been seen. */
  private readonly last = new Int8Array(PID_COUNT).fill(-1);
  private readonly delta = new Uint8Array(PID_COUNT);
  /** Session in which each PID's offset was fixed (0 = never seen). */
  private readonly anchored = new Uint32Array(PID_COUNT);
  private session = 1;

  /** The current session's number (1 for the first; join() adds one). */
  get sessionNumber(): number { return this.session; }

  /** A join: from the next packet on, every PID continues from its last counter. */
  join(): void { this.session++; }

  /** The counter last written on `pid` (-1: none yet). The next payload packet gets this + 1. */
  lastCc(pid: number): number { return this.last[pid]!; }

  /** Session in which `pid` was last seen (0: never). */
  lastSession(pid: number): number { return this.anchored[pid]!; }

  /**
   * Rewrite the continuity counter of the aligned packet at `off` in place. Returns true
   * when it is its PID's first packet in this session (where the join is). Null packets,
   * packets flagged as damaged (TEI) and bytes that are not a packet start are left alone.
   */
  apply(buf: Uint8Array, off: number): boolean {
    const b1 = buf[off + 1]!;
    if (buf[off] !== SYNC_BYTE || (b1 & 0x80) !== 0) return false;
    const pid = ((b1 & 0x1f) << 8) | buf[off + 2]!;
    if (pid === NULL_PID) return false;
    const b3 = buf[off + 3]!;
    const cc = b3 & 0x0f;
    let first = false;
    if (this.anchored[pid] !== this.session) {
      this.anchored[pid] = this.session;
      const last = this.last[pid]!;
      // A payload packet follows with last + 1; an adaptation-only one repeats last.
      this.delta[pid] = last < 0 ? 0 : (last + ((b3 & 0x10) !== 0 ? 1 : 0) - cc) & 0x0f;
      first = true;
    }
    const out = (cc + this.delta[pid]!) & 0x0f;
    buf[off + 3] = (b3 & 0xf0) | out;
    this.last[pid] = out;
    return first;
  }
}
