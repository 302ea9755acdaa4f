// A strict transport stream checker, as decoders judge a stream: continuity counters per
// PID (a payload packet must follow with +1, an adaptation-only packet repeats the counter,
// one duplicate is allowed, discontinuity_indicator excuses a jump), sync bytes, and the
// PCR of each PID moving forward (a discontinuity_indicator excuses a time base change).

import { PKT } from './packets.js';

const WRAP = 2 ** 33 * 300;

export interface StreamCheck {
  packets: number;
  syncErrors: number;
  ccErrors: number;
  /** PCR steps backwards (or forward by more than 1 s) without a discontinuity_indicator. */
  pcrErrors: number;
  /** Packets with discontinuity_indicator set. */
  discontinuities: number;
  /** First few problems, for assertion messages. */
  notes: string[];
}

export function checkStream(buf: Buffer): StreamCheck {
  const r: StreamCheck = { packets: 0, syncErrors: 0, ccErrors: 0, pcrErrors: 0, discontinuities: 0, notes: [] };
  const lastCc = new Int8Array(8192).fill(-1);
  const dup = new Uint8Array(8192);
  const lastPcr = new Float64Array(8192).fill(-1);
  const note = (s: string): void => { if (r.notes.length < 10) r.notes.push(s); };
  for (let o = 0; o + PKT <= buf.length; o += PKT) {
    r.packets++;
    if (buf[o] !== 0x47) { r.syncErrors++; note(`no sync at packet ${o / PKT}`); continue; }
    const pid = ((buf[o + 1]! & 0x1f) << 8) | buf[o + 2]!;
    if (pid === 0x1fff) continue;
    const b3 = buf[o + 3]!;
    const hasAf = (b3 & 0x20) !== 0 && buf[o + 4]! > 0;
    const disc = hasAf && (buf[o + 5]! & 0x80) !== 0;
    if (disc) {
      r.discontinuities++;
      lastPcr[pid] = -1; // on a PCR PID: the next PCR starts a new time base
    }
    const cc = b3 & 0x0f;
    const payload = (b3 & 0x10) !== 0;
    const last = lastCc[pid]!;
    if (last >= 0 && !disc) {
      const expected = payload ? (last + 1) & 0x0f : last;
      if (cc !== expected) {
        if (payload && cc === last && dup[pid] === 0) dup[pid] = 1;
        else { r.ccErrors++; note(`packet ${o / PKT} pid ${pid}: cc ${cc}, expected ${expected}`); }
      } else dup[pid] = 0;
    } else dup[pid] = 0;
    lastCc[pid] = cc;
    if (hasAf && buf[o + 4]! >= 7 && (buf[o + 5]! & 0x10) !== 0) {
      const base = buf[o + 6]! * 33554432 + buf[o + 7]! * 131072 + buf[o + 8]! * 512 + buf[o + 9]! * 2 + (buf[o + 10]! >> 7);
      const pcr = base * 300 + (((buf[o + 10]! & 1) << 8) | buf[o + 11]!);
      const prev = lastPcr[pid]!;
      if (prev >= 0) {
        const d = (pcr - prev + WRAP) % WRAP;
        if (d === 0 || d > 27_000_000) { r.pcrErrors++; note(`packet ${o / PKT} pid ${pid}: PCR step ${(d > WRAP / 2 ? d - WRAP : d) / 27000} ms`); }
      }
      lastPcr[pid] = pcr;
    }
  }
  return r;
}

/** The PES timestamps (PTS, else DTS-less PTS) of `pid` in packet order, 90 kHz, unwrapped. */
export function pesTimes(buf: Buffer, pid: number): { pts: number[]; dts: number[] } {
  const pts: number[] = [];
  const dts: number[] = [];
  const unwrap = (arr: number[], v: number): number => {
    if (arr.length === 0) return v;
    const prev = arr[arr.length - 1]!;
    let d = (v - (prev % 2 ** 33)) % 2 ** 33;
    if (d > 2 ** 32) d -= 2 ** 33;
    if (d <= -(2 ** 32)) d += 2 ** 33;
    return prev + d;
  };
  const read = (q: number): number => ((buf[q]! >> 1) & 7) * 2 ** 30 + ((buf[q + 1]! << 22) | ((buf[q + 2]! >> 1) << 15) | (buf[q + 3]! << 7) | (buf[q + 4]! >> 1));
  for (let o = 0; o + PKT <= buf.length; o += PKT) {
    if ((((buf[o + 1]! & 0x1f) << 8) | buf[o + 2]!) !== pid || (buf[o + 1]! & 0x40) === 0) continue;
    const b3 = buf[o + 3]!;
    if ((b3 & 0x10) === 0) continue;
    const po = (b3 & 0x20) !== 0 ? o + 5 + buf[o + 4]! : o + 4;
    if (buf[po] !== 0 || buf[po + 1] !== 0 || buf[po + 2] !== 1) continue;
    const flags = buf[po + 7]! >> 6;
    if (flags < 2) continue;
    const p = read(po + 9);
    const d = flags === 3 ? read(po + 14) : p;
    dts.push(unwrap(dts, d));
    pts.push(unwrap(pts, p));
  }
  return { pts, dts };
}
