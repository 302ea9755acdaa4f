// 64-bit FNV-1a, the ETag hash of the original (Go hash/fnv New64a, printed %016x).
// Computed on two 32-bit halves in plain numbers: BigInt per byte is far too slow for
// bodies of several MiB.

const PRIME_LO = 0x1b3; // FNV-64 prime = 2^40 + 0x1b3
const TWO_32 = 0x1_0000_0000;

export function fnv1a64Hex(buf: Uint8Array): string {
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (const byte of buf) {
    lo ^= byte;
    lo >>>= 0;
    // h * (2^40 + 0x1b3) mod 2^64: the 0x1b3 part on both halves with carry, and the
    // 2^40 part shifts lo into hi by 8 bits. Every intermediate stays below 2^53.
    const t = lo * PRIME_LO;
    hi = (hi * PRIME_LO + Math.floor(t / TWO_32) + ((lo << 8) >>> 0)) >>> 0;
    lo = t >>> 0;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}
