// Program Clock Reference (PCR) reading: the 27 MHz clock carried in adaptation fields.
// Pure and allocation-free; used to pace file upstreams in real time.
//
// Units: PCR values are returned in 27 MHz ticks (base * 300 + extension), as a plain
// number. The largest value, 2^33 * 300, is about 2.6e12 and stays exact in a double.

import { TS_PACKET_SIZE } from './packet.js';

/** Ticks per second of the PCR clock. */
export const PCR_HZ = 27_000_000;
/** The PCR wraps to 0 here (33-bit base at 90 kHz, times 300). */
export const PCR_WRAP = 2 ** 33 * 300;

/**
 * The PCR of the packet starting at `off` in `buf`, in 27 MHz ticks, or -1 when the
 * packet has none (no sync byte, no adaptation field, PCR flag clear, or truncated).
 */
export function readPcr(buf: Uint8Array, off: number): number {
  if (off < 0 || off + TS_PACKET_SIZE > buf.length) return -1;
  if (buf[off] !== 0x47) return -1;
  if ((buf[off + 3]! & 0x20) === 0) return -1; // no adaptation field
  const afLen = buf[off + 4]!;
  if (afLen < 7 || afLen > 183) return -1;
  if ((buf[off + 5]! & 0x10) === 0) return -1; // PCR_flag
  const b6 = buf[off + 6]!, b7 = buf[off + 7]!, b8 = buf[off + 8]!, b9 = buf[off + 9]!;
  const b10 = buf[off + 10]!, b11 = buf[off + 11]!;
  // 33-bit base: multiply instead of shifting, JS bit operators are 32-bit.
  const base = b6 * 33554432 + b7 * 131072 + b8 * 512 + b9 * 2 + (b10 >> 7);
  const ext = ((b10 & 1) << 8) | b11;
  return base * 300 + ext;
}

/** The 13-bit PID of the packet starting at `off` (no checks). */
export function packetPid(buf: Uint8Array, off: number): number {
  return ((buf[off + 1]! & 0x1f) << 8) | buf[off + 2]!;
}

/**
 * Forward distance from PCR `a` to PCR `b` in ticks, across the wrap: always in
 * [0, PCR_WRAP). A jump backwards (a loop restart) therefore shows up as a huge value;
 * callers treat anything beyond a plausible gap as a discontinuity.
 */
export function pcrForward(a: number, b: number): number {
  const d = b - a;
  return d >= 0 ? d : d + PCR_WRAP;
}
