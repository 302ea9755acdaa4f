// The loop clock: one time base for a clip played over and over, so the output is a
// single endless stream (file:clip.ts?loop&realtime).
//
// The first pass through the clip goes out unchanged while its timing is learnt: the PCR
// span, and per PES PID the span of its PTS/DTS and how long its last PES lasts. At the
// end of the first pass the clip's duration D is fixed (90 kHz ticks): the longest of
// those spans plus the last frame's (or PES's) duration, so every PID's timestamps stay
// strictly monotonic across the loop point (the stream that ends earlier gets a small gap,
// never an overlap). Pass k then goes out with PCR, PTS and DTS shifted by k * D (modulo
// 2^33, where they wrap) and with every PID's continuity counter continuing (continuity.ts).
// A discontinuity_indicator on a PID's first packet of the clip (ffmpeg's
// initial_discontinuity) is cleared on later passes: there is no discontinuity any more.
// A clip whose own timestamps jump (a time base discontinuity inside the file) cannot be
// shifted as one piece: then each loop point is marked as a discontinuity instead.
//
// Everything is rewritten in place in the buffers handed in (the reader's own copy);
// nothing is allocated per packet.

import { CcContinuer } from './continuity.js';
import { NULL_PID, PACKET_SIZES, PID_COUNT, TS_PACKET_SIZE } from './packet.js';
import { readPcr } from './pcr.js';
import { audioFrameTicks, countAdts, isAdts, type AdtsWalk } from './audioframes.js';

/** PTS/DTS and PCR base wrap here (33 bits at 90 kHz). */
export const TS_WRAP = 2 ** 33;
const HALF_WRAP = 2 ** 32;
/** A PCR step backwards or beyond this inside the clip is a time base discontinuity. */
const MAX_PCR_STEP = 90_000; // 1 s in 90 kHz ticks
/** PES PIDs followed for the duration (more are rewritten, not measured). */
const MAX_PES_PIDS = 64;

/** Signed distance a -> b between two 33-bit timestamps, in (-2^32, 2^32]. */
export function tsDiff(a: number, b: number): number {
  let d = (b - a) % TS_WRAP;
  if (d > HALF_WRAP) d -= TS_WRAP;
  else if (d <= -HALF_WRAP) d += TS_WRAP;
  return d;
}

/** The 33-bit timestamp (PTS or DTS layout: 5 bytes with marker bits) at `q`. */
export function readTimestamp(buf: Uint8Array, q: number): number {
  return ((buf[q]! >> 1) & 0x07) * 1073741824
    + ((buf[q + 1]! << 22) | ((buf[q + 2]! >> 1) << 15) | (buf[q + 3]! << 7) | (buf[q + 4]! >> 1));
}

/** Write a 33-bit timestamp at `q`, keeping the 4-bit prefix and setting the marker bits. */
export function writeTimestamp(buf: Uint8Array, q: number, v: number): void {
  const hi = Math.floor(v / 1073741824) & 0x07;
  const lo = v - Math.floor(v / 1073741824) * 1073741824;
  buf[q] = (buf[q]! & 0xf0) | (hi << 1) | 1;
  buf[q + 1] = (lo >>> 22) & 0xff;
  buf[q + 2] = (((lo >>> 15) & 0x7f) << 1) | 1;
  buf[q + 3] = (lo >>> 7) & 0xff;
  buf[q + 4] = ((lo & 0x7f) << 1) | 1;
}

/** Add `add` (90 kHz ticks, >= 0) to the 33-bit PCR base at `q` (6 bytes), keeping reserved bits and extension. */
function shiftPcrAt(buf: Uint8Array, q: number, add: number): void {
  const base = buf[q]! * 33554432 + buf[q + 1]! * 131072 + buf[q + 2]! * 512 + buf[q + 3]! * 2 + (buf[q + 4]! >> 7);
  const v = (base + add) % TS_WRAP;
  const top = Math.floor(v / 33554432);
  const rem = v - top * 33554432;
  buf[q] = top;
  buf[q + 1] = (rem >>> 17) & 0xff;
  buf[q + 2] = (rem >>> 9) & 0xff;
  buf[q + 3] = (rem >>> 1) & 0xff;
  buf[q + 4] = (buf[q + 4]! & 0x7f) | ((rem & 1) << 7);
}

/** Where the PES header's PTS starts in the packet at `off`, and whether a DTS follows; -1 when none. */
function pesTimestamps(buf: Uint8Array, off: number): number {
  const b3 = buf[off + 3]!;
  if ((b3 & 0x10) === 0 || (b3 & 0xc0) !== 0) return -1; // no payload, or scrambled
  const po = (b3 & 0x20) !== 0 ? off + 5 + buf[off + 4]! : off + 4;
  const end = off + TS_PACKET_SIZE;
  if (po + 14 > end || buf[po] !== 0 || buf[po + 1] !== 0 || buf[po + 2] !== 1) return -1;
  const sid = buf[po + 3]!;
  // Stream ids whose PES packets have no optional header (ISO 13818-1 table 2-22).
  if (sid === 0xbc || sid === 0xbe || sid === 0xbf || sid === 0xf0 || sid === 0xf1 || sid === 0xf2 || sid === 0xf8 || sid === 0xff) return -1;
  if ((buf[po + 6]! & 0xc0) !== 0x80) return -1;
  const flags = buf[po + 7]! >> 6;
  if (flags === 2) return po + 9;
  if (flags === 3 && po + 19 <= end) return -(po + 9) - 2; // encoded: PTS and DTS
  return -1;
}

/** Timing of one PES PID over the first pass. Times are unwrapped 90 kHz ticks. */
interface PesTiming extends AdtsWalk {
  count: number;
  firstDts: number;
  prevDts: number;
  prevRaw: number;
  minPts: number;
  maxPts: number;
  minStep: number;
  maxStep: number;
  gcd: number;
  /** Payload bytes of every PES before the current one, and of the current one. */
  bytesBefore: number;
  bytesCurrent: number;
  /** Timestamps went backwards or jumped: not used for the duration (subtitles, teletext). */
  irregular: boolean;
  /** Audio frame duration from the first frame's header (AAC ADTS, MPEG audio, AC-3), ticks; 0 unknown. */
  frameTicks: number;
}

function gcd(a: number, b: number): number {
  while (b > 0) { const t = a % b; a = b; b = t; }
  return a;
}

/**
 * Packet size and first sync byte of a transport stream read from a file: 188, or 192
 * (M2TS/BDAV: a 4-byte timestamp before each packet) or 204 (16 bytes of Reed-Solomon
 * parity after each), recognised by three sync bytes one packet apart. `start` is where
 * the first whole unit begins (for 192: its timestamp, 4 bytes before the sync byte).
 * Undefined when there is no such run.
 */
export function detectPacketSize(buf: Uint8Array, from: number, to: number): { size: number; sync: number; start: number } | undefined {
  for (let p = from; p + TS_PACKET_SIZE <= to; p++) {
    if (buf[p] !== 0x47) continue;
    for (const size of PACKET_SIZES) {
      if (p + 2 * size < to && buf[p + size] === 0x47 && buf[p + 2 * size] === 0x47) {
        let sync = p;
        // M2TS: a 0x47 in the 4-byte timestamp repeats too (its top byte changes slowly);
        // the real sync byte is then up to 4 bytes on: take the last one that repeats.
        if (size === 192) {
          for (let k = 4; k > 0; k--) {
            const q = p + k;
            if (q + 2 * size < to && buf[q] === 0x47 && buf[q + size] === 0x47 && buf[q + 2 * size] === 0x47) { sync = q; break; }
          }
        }
        const start = size === 192 ? sync - 4 : sync;
        return { size, sync, start: start < from ? sync : start };
      }
    }
  }
  return undefined;
}

export class LoopClock {
  private readonly cc = new CcContinuer();
  private pass = 0;
  /** Offset added to every timestamp in this pass, 90 kHz ticks, in [0, 2^33). */
  private offset = 0;
  private duration = -1;
  /** Timing could not be made continuous: mark each loop point as a discontinuity instead. */
  private broken = false;
  // First-pass learning.
  private ref = -1;
  private pcrPid = -1;
  private firstPcr = 0;
  private lastPcr = 0;
  private lastPcrRaw = -1;
  private maxPcrStep = 0;
  private readonly pesSlot = new Int16Array(PID_COUNT).fill(-1);
  private readonly pes: PesTiming[] = [];

  /**
   * @param stride bytes from one packet's sync byte to the next (188, 192 or 204).
   * @param syncOffset where the sync byte sits in each unit handed to process() (4 for M2TS,
   *   whose units begin with their timestamp; process() is then given whole units).
   */
  constructor(private readonly stride = TS_PACKET_SIZE, private readonly syncOffset = 0) {}

  /** Clip duration in 90 kHz ticks, known after the first pass (-1 before, or when it cannot be made continuous). */
  get durationTicks(): number { return this.duration; }
  /** Passes completed. */
  get loops(): number { return this.pass; }
  /** Offset of the current pass, 90 kHz ticks (mod 2^33). */
  get offsetTicks(): number { return this.offset; }

  /**
   * Handle the aligned packets in buf[from, to) (a partial packet at the end is left
   * alone): learn on the first pass, rewrite on the others. Bytes that do not start a
   * packet are skipped up to the next sync byte. Only the 188 bytes from each sync byte
   * are touched (an M2TS timestamp or RS parity around them is left as it is).
   */
  process(buf: Uint8Array, from: number, to: number): void {
    let off = from + this.syncOffset;
    while (off + TS_PACKET_SIZE <= to) {
      // A sync byte, and (where the buffer shows it) the next one a packet on: a 0x47 in
      // an M2TS timestamp or in parity bytes is not taken for a packet.
      if (buf[off] !== 0x47 || (off + this.stride < to && buf[off + this.stride] !== 0x47)) { off++; continue; }
      if (this.pass === 0) this.learn(buf, off);
      else this.rewrite(buf, off);
      off += this.stride;
    }
  }

  /** The clip ended: what follows is the next pass (from its beginning). */
  restart(): void {
    if (this.pass === 0) this.fixDuration();
    this.pass++;
    if (!this.broken) this.offset = (this.offset + this.duration) % TS_WRAP;
    this.cc.join();
  }

  private learn(buf: Uint8Array, off: number): void {
    this.cc.apply(buf, off);
    const b1 = buf[off + 1]!;
    if ((b1 & 0x80) !== 0) return;
    const pid = ((b1 & 0x1f) << 8) | buf[off + 2]!;
    if (pid === NULL_PID) return;
    const pcr = readPcr(buf, off);
    if (pcr >= 0) this.learnPcr(pid, pcr);
    const b3 = buf[off + 3]!;
    let slot = this.pesSlot[pid]!;
    if ((b1 & 0x40) !== 0) {
      const at = pesTimestamps(buf, off);
      if (at !== -1) {
        if (slot < 0 && this.pes.length < MAX_PES_PIDS) {
          slot = this.pes.length;
          this.pesSlot[pid] = slot;
          this.pes.push({ count: 0, firstDts: 0, prevDts: 0, prevRaw: 0, minPts: 0, maxPts: 0, minStep: Infinity, maxStep: 0, gcd: 0, bytesBefore: 0, bytesCurrent: 0, irregular: false,
            frameTicks: 0, frames: -1, skip: 0, hlen: 0, hdr: new Uint8Array(7) });
        }
        if (slot >= 0) this.learnPes(this.pes[slot]!, buf, at);
      }
    }
    if (slot >= 0 && (b3 & 0x10) !== 0) {
      const t = this.pes[slot]!;
      let po = off + ((b3 & 0x20) !== 0 ? 5 + buf[off + 4]! : 4);
      const end = off + TS_PACKET_SIZE;
      if (po < end) {
        t.bytesCurrent += end - po;
        if ((b1 & 0x40) !== 0 && po + 9 <= end) {
          po += 9 + buf[po + 8]!; // the ES after the PES header
          if (t.count === 1 && po + 7 <= end) t.frameTicks = audioFrameTicks(buf, po);
          if (t.frameTicks > 0 && isAdts(buf, po)) { t.frames = 0; t.skip = 0; t.hlen = 0; } else t.frames = -1;
        }
        if (t.frames >= 0 && po < end) countAdts(t, buf, po, end);
      }
    }
  }

  private learnPcr(pid: number, pcr: number): void {
    const base = Math.floor(pcr / 300);
    if (this.ref < 0) this.ref = base;
    if (this.pcrPid < 0) {
      this.pcrPid = pid;
      this.firstPcr = this.lastPcr = tsDiff(this.ref, base);
      this.lastPcrRaw = base;
      return;
    }
    if (pid !== this.pcrPid) return;
    const step = tsDiff(this.lastPcrRaw, base);
    if (step < 0 || step > MAX_PCR_STEP) this.broken = true;
    if (step > this.maxPcrStep) this.maxPcrStep = step;
    this.lastPcr += step;
    this.lastPcrRaw = base;
  }

  private learnPes(t: PesTiming, buf: Uint8Array, at: number): void {
    const both = at < -1;
    const q = both ? -(at + 2) : at;
    const pts = readTimestamp(buf, q);
    const dtsRaw = both ? readTimestamp(buf, q + 5) : pts;
    if (this.ref < 0) this.ref = dtsRaw;
    let dts: number;
    if (t.count === 0) {
      dts = tsDiff(this.ref, dtsRaw);
      t.firstDts = dts;
      t.minPts = t.maxPts = dts + tsDiff(dtsRaw, pts);
    } else {
      const step = tsDiff(t.prevRaw, dtsRaw);
      if (step <= 0 || step > MAX_PCR_STEP * 5) t.irregular = true;
      dts = t.prevDts + step;
      if (step > 0) {
        if (step < t.minStep) t.minStep = step;
        if (step > t.maxStep) t.maxStep = step;
        t.gcd = gcd(step, t.gcd);
      }
      t.bytesBefore += t.bytesCurrent;
    }
    t.bytesCurrent = 0;
    const p = dts + tsDiff(dtsRaw, pts);
    if (p < t.minPts) t.minPts = p;
    if (p > t.maxPts) t.maxPts = p;
    t.prevDts = dts;
    t.prevRaw = dtsRaw;
    t.count++;
  }

  /** D: the longest span (PCR, or any PES PID's timestamps) plus its last interval. */
  private fixDuration(): void {
    let d = 0;
    for (const t of this.pes) {
      if (t.count < 2 || t.irregular) continue;
      const span = Math.max(t.prevDts - t.firstDts, t.maxPts - t.minPts);
      d = Math.max(d, span + lastDuration(t));
    }
    if (this.pcrPid >= 0) {
      const span = this.lastPcr - this.firstPcr;
      // PCR must move forward across the loop point; with no PES timing, one PCR step on.
      d = d > span ? d : span + (this.maxPcrStep > 0 ? this.maxPcrStep : 1);
    }
    if (d <= 0 || d >= HALF_WRAP) this.broken = true;
    this.duration = this.broken ? -1 : Math.ceil(d);
  }

  private rewrite(buf: Uint8Array, off: number): void {
    const first = this.cc.apply(buf, off);
    const b1 = buf[off + 1]!;
    if ((b1 & 0x80) !== 0) return;
    const b3 = buf[off + 3]!;
    const hasAf = (b3 & 0x20) !== 0 && buf[off + 4]! > 0;
    if (first && hasAf) {
      // Continuous now: a discontinuity flag from the clip's start would be a false alarm;
      // with a clip that cannot be made continuous, each loop point is a real one.
      if (this.broken) buf[off + 5] = buf[off + 5]! | 0x80;
      else buf[off + 5] = buf[off + 5]! & 0x7f;
    }
    if (this.broken || this.offset === 0) return;
    if (hasAf && buf[off + 4]! >= 7) {
      const flags = buf[off + 5]!;
      if ((flags & 0x10) !== 0) shiftPcrAt(buf, off + 6, this.offset);
      if ((flags & 0x08) !== 0 && buf[off + 4]! >= ((flags & 0x10) !== 0 ? 13 : 7)) {
        shiftPcrAt(buf, off + ((flags & 0x10) !== 0 ? 12 : 6), this.offset); // OPCR
      }
    }
    if ((b1 & 0x40) !== 0) {
      const at = pesTimestamps(buf, off);
      if (at === -1) return;
      const q = at < -1 ? -(at + 2) : at;
      writeTimestamp(buf, q, (readTimestamp(buf, q) + this.offset) % TS_WRAP);
      if (at < -1) writeTimestamp(buf, q + 5, (readTimestamp(buf, q + 5) + this.offset) % TS_WRAP);
    }
  }
}

/**
 * How long the last PES of a PID lasts. Evenly spaced PES (a frame each, constant rate):
 * one step. Otherwise (audio packed several frames to a PES, a short last one): from its
 * size at the PID's byte rate, rounded to whole steps of the common divisor (the frame
 * duration), leaning up, so the loop point leaves at most a small gap and never an overlap.
 */
function lastDuration(t: PesTiming): number {
  if (t.frames > 0) return t.frames * t.frameTicks;
  if (t.frameTicks > 0) {
    const est = t.bytesBefore > 0 ? (t.bytesCurrent * (t.prevDts - t.firstDts)) / t.bytesBefore : t.maxStep;
    return Math.max(1, Math.ceil(est / t.frameTicks - 0.25)) * t.frameTicks;
  }
  if (t.maxStep - t.minStep <= 1) return t.maxStep;
  const span = t.prevDts - t.firstDts;
  const est = t.bytesBefore > 0 ? (t.bytesCurrent * span) / t.bytesBefore : t.maxStep;
  const g = t.gcd >= 90 ? t.gcd : 1;
  return Math.max(g, Math.ceil(est / g - 0.25) * g);
}
