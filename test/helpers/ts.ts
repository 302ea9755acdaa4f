// Test-only MPEG-TS builders: packets with a known PID/CC/payload, so output can be
// checked for alignment, order and completeness.

export const PKT = 188;

/** A packet with PID, continuity counter and a payload derived from `seq`. */
export function makePacket(pid: number, cc: number, seq: number): Buffer {
  const p = Buffer.alloc(PKT);
  p[0] = 0x47;
  p[1] = (pid >> 8) & 0x1f;
  p[2] = pid & 0xff;
  p[3] = 0x10 | (cc & 0x0f); // payload only
  p.writeUInt32BE(seq >>> 0, 4);
  for (let i = 8; i < PKT; i++) p[i] = (seq + i) & 0xff;
  return p;
}

/** `n` consecutive packets on one PID, continuity counters running. */
export function makeStream(n: number, pid = 0x100, startSeq = 0): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < n; i++) parts.push(makePacket(pid, (startSeq + i) & 0x0f, startSeq + i));
  return Buffer.concat(parts);
}

/** Garbage that never contains a sync byte, so it can never be mistaken for packets. */
export function garbage(n: number, seed = 1): Buffer {
  const g = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    let b = x & 0xff;
    if (b === 0x47) b = 0x48;
    g[i] = b;
  }
  return g;
}

/** Sequence numbers of the packets in an aligned buffer (throws if misaligned). */
export function seqs(buf: Buffer): number[] {
  if (buf.length % PKT !== 0) throw new Error(`not a multiple of ${PKT}: ${buf.length}`);
  const out: number[] = [];
  for (let o = 0; o < buf.length; o += PKT) {
    if (buf[o] !== 0x47) throw new Error(`no sync byte at ${o}`);
    out.push(buf.readUInt32BE(o + 4));
  }
  return out;
}

/** Count continuity-counter errors per PID in an aligned buffer. */
export function ccErrors(buf: Buffer): number {
  const last = new Map<number, number>();
  let errors = 0;
  for (let o = 0; o + PKT <= buf.length; o += PKT) {
    const pid = ((buf[o + 1]! & 0x1f) << 8) | buf[o + 2]!;
    if (pid === 0x1fff) continue;
    const afc = (buf[o + 3]! >> 4) & 0x3;
    const cc = buf[o + 3]! & 0x0f;
    const prev = last.get(pid);
    if (prev !== undefined && (afc & 1)) {
      if (cc !== ((prev + 1) & 0x0f) && cc !== prev) errors++;
    }
    last.set(pid, cc);
  }
  return errors;
}

/**
 * Two captures of one live stream that started at different moments: find where one's
 * start lies in the other (at a packet boundary) and compare the overlap, leaving out
 * the last `slack` packets (the final batch may differ in timing). Returns the number of
 * overlapping bytes compared, or -1 when neither start is found in the other.
 */
export function overlapEqual(a: Buffer, b: Buffer, slack = 10): number {
  const probe = 8 * PKT;
  const at = a.indexOf(b.subarray(0, probe));
  if (at >= 0 && at % PKT === 0) {
    const n = Math.min(b.length, a.length - at) - slack * PKT;
    return n > 0 && b.subarray(0, n).equals(a.subarray(at, at + n)) ? n : -1;
  }
  const bt = b.indexOf(a.subarray(0, probe));
  if (bt >= 0 && bt % PKT === 0) {
    const n = Math.min(a.length, b.length - bt) - slack * PKT;
    return n > 0 && a.subarray(0, n).equals(b.subarray(bt, bt + n)) ? n : -1;
  }
  return -1;
}
