// Test-only builders for the aligner's resync and packet-size tests: packets with random
// payloads on a few PIDs, garbage with a chosen share of 0x47 bytes, and 192/204-byte
// framings of 188-byte packets.

import { PKT } from './packets.js';

export const SYNC = 0x47;

/** Deterministic PRNG (mulberry32), so a failing case can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A packet on `pid` with continuity counter `cc` and a random payload. */
function randomPacket(pid: number, cc: number, rand: () => number): Buffer {
  const p = Buffer.alloc(PKT);
  p[0] = SYNC;
  p[1] = (pid >> 8) & 0x1f;
  p[2] = pid & 0xff;
  p[3] = 0x10 | (cc & 0x0f);
  for (let i = 4; i < PKT; i++) p[i] = Math.floor(rand() * 256);
  return p;
}

/** `n` packets cycling over `pids`, continuity counters running per PID. */
export function randomPackets(n: number, pids: readonly number[], rand: () => number): Buffer[] {
  const cc = new Map<number, number>();
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const pid = pids[i % pids.length]!;
    const c = cc.get(pid) ?? 0;
    cc.set(pid, (c + 1) & 0x0f);
    out.push(randomPacket(pid, c, rand));
  }
  return out;
}

/** Garbage of `n` bytes of which about `syncShare` are 0x47 (the measured case: 1/3). */
export function syncGarbage(n: number, syncShare: number, rand: () => number): Buffer {
  const g = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    if (rand() < syncShare) g[i] = SYNC;
    else { let b = Math.floor(rand() * 255); if (b >= SYNC) b++; g[i] = b; }
  }
  return g;
}

/**
 * The measured pattern: `every` packets, then `glen` bytes of garbage (a `syncShare` of
 * them 0x47), repeated. Returns the input and the intact packets, concatenated.
 */
export function burstPattern(packets: Buffer[], every: number, glen: number, syncShare: number, rand: () => number): { input: Buffer; intact: Buffer } {
  const parts: Buffer[] = [];
  for (let i = 0; i < packets.length; i++) {
    parts.push(packets[i]!);
    if ((i + 1) % every === 0 && i + 1 < packets.length) parts.push(syncGarbage(glen, syncShare, rand));
  }
  return { input: Buffer.concat(parts), intact: Buffer.concat(packets) };
}

/** 188-byte packets framed as M2TS/BDAV (192: 4-byte timestamp first) or with 16 parity bytes (204). */
export function frame(packets: Buffer, size: 192 | 204, rand: () => number): Buffer {
  const n = packets.length / PKT;
  const out = Buffer.alloc(n * size);
  for (let i = 0; i < n; i++) {
    const o = i * size;
    const extra = size - PKT;
    if (size === 192) {
      // copy_permission_indicator (2 bits) + 30-bit arrival timestamp, rising.
      out.writeUInt32BE((i * 1234567) & 0x3fffffff, o);
      packets.copy(out, o + 4, i * PKT, i * PKT + PKT);
    } else {
      packets.copy(out, o, i * PKT, i * PKT + PKT);
      for (let k = 0; k < extra; k++) out[o + PKT + k] = Math.floor(rand() * 256);
    }
  }
  return out;
}
