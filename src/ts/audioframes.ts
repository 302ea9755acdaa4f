// Audio frame headers, just enough for the loop clock to know how long a clip's audio
// lasts: the frame duration from the first header (AAC in ADTS, MPEG audio layers I-III,
// AC-3), and ADTS frames counted through a PES (ffmpeg packs several to a PES, and the
// last PES of a clip is usually shorter). Pure, no allocation.

const ADTS_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
const MPA_RATES = [44100, 48000, 32000];
const AC3_RATES = [48000, 44100, 32000];

export function isAdts(buf: Uint8Array, p: number): boolean {
  return buf[p] === 0xff && (buf[p + 1]! & 0xf6) === 0xf0;
}

/** Duration of one audio frame from the header at `p` (90 kHz ticks), 0 when not recognised. */
export function audioFrameTicks(buf: Uint8Array, p: number): number {
  const b0 = buf[p]!, b1 = buf[p + 1]!, b2 = buf[p + 2]!;
  if (b0 === 0xff && (b1 & 0xf6) === 0xf0) {
    const sr = ADTS_RATES[(b2 >> 2) & 0x0f];
    return sr ? (1024 * 90000) / sr : 0;
  }
  if (b0 === 0xff && (b1 & 0xe0) === 0xe0) {
    const version = (b1 >> 3) & 3, layer = (b1 >> 1) & 3, sri = (b2 >> 2) & 3;
    if (version === 1 || layer === 0 || sri === 3) return 0;
    const sr = MPA_RATES[sri]! / (version === 3 ? 1 : version === 2 ? 2 : 4);
    const samples = layer === 3 ? 384 : layer === 2 || version === 3 ? 1152 : 576;
    return (samples * 90000) / sr;
  }
  if (b0 === 0x0b && b1 === 0x77) {
    const sr = AC3_RATES[buf[p + 4]! >> 6];
    return sr ? (1536 * 90000) / sr : 0;
  }
  return 0;
}

/** Where a walk through ADTS frames stands (kept per PID across TS packets). */
export interface AdtsWalk {
  /** Frames counted so far, -1 once a header was not where it should be. */
  frames: number;
  /** Bytes to skip to the next header, and the header bytes collected so far. */
  skip: number;
  hlen: number;
  readonly hdr: Uint8Array;
}

/** Walk ADTS frames through one packet's part of a PES, counting them (frames = -1 on a lost header). */
export function countAdts(t: AdtsWalk, buf: Uint8Array, p: number, end: number): void {
  while (p < end) {
    if (t.skip > 0) {
      const n = Math.min(t.skip, end - p);
      t.skip -= n;
      p += n;
      continue;
    }
    t.hdr[t.hlen++] = buf[p++]!;
    if (t.hlen < 7) continue;
    const h = t.hdr;
    const len = ((h[3]! & 0x03) << 11) | (h[4]! << 3) | (h[5]! >> 5);
    if (!isAdts(h, 0) || len < 7) { t.frames = -1; return; }
    t.frames += (h[6]! & 0x03) + 1;
    t.skip = len - 7;
    t.hlen = 0;
  }
}
