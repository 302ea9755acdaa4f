import type { StreamAnalyzer } from '../ts/analyzer.js';
import { TS_PACKET_SIZE } from '../ts/aligner.js';

/** `n` null packets (PID 0x1FFF): keep-alive filler while an upstream is being replaced. */
export function nullPackets(n: number): Buffer {
  const b = Buffer.alloc(n * TS_PACKET_SIZE, 0xff);
  for (let i = 0; i < n; i++) {
    const o = i * TS_PACKET_SIZE;
    b[o] = 0x47;
    b[o + 1] = 0x1f;
    b[o + 2] = 0xff;
    b[o + 3] = 0x10;
  }
  return b;
}

/**
 * An adaptation-field-only packet with discontinuity_indicator set: tells a decoder that
 * continuity counters and the time base of `pid` restart. Such a packet carries no
 * payload, so it does not advance the continuity counter (ISO 13818-1 2.4.3.3).
 */
function discontinuityPacket(pid: number, out: Buffer, o: number): void {
  out[o] = 0x47;
  out[o + 1] = (pid >> 8) & 0x1f;
  out[o + 2] = pid & 0xff;
  out[o + 3] = 0x20; // adaptation field only, CC 0
  out[o + 4] = TS_PACKET_SIZE - 5;
  out[o + 5] = 0x80; // discontinuity_indicator
  out.fill(0xff, o + 6, o + TS_PACKET_SIZE);
}

/**
 * What a client receives before joining at a random access point: the current PAT and
 * PMT, and, after an upstream switch, a discontinuity marker for every elementary stream
 * and PCR PID so decoders reset cleanly. Undefined when no PAT/PMT is known yet.
 */
export function startPrefix(a: StreamAnalyzer, withDiscontinuity: boolean): Buffer | undefined {
  const pat = a.patPackets;
  const pmt = a.pmtPackets;
  if (!pat || !pmt) return undefined;
  if (!withDiscontinuity) return Buffer.concat([pat, pmt]);
  const pids = new Set<number>();
  for (const p of a.programs) {
    if (p.pcrPid !== 0x1fff) pids.add(p.pcrPid);
    for (const s of p.streams) pids.add(s.pid);
  }
  const disc = Buffer.alloc(pids.size * TS_PACKET_SIZE);
  let o = 0;
  for (const pid of pids) { discontinuityPacket(pid, disc, o); o += TS_PACKET_SIZE; }
  return Buffer.concat([pat, pmt, disc]);
}

/** Ring access needed to continue continuity counters (PacketRing satisfies it). */
interface RingView { readonly head: number; readonly tail: number; packetView(index: number): Buffer }

/** Packets scanned for the next PAT/PMT after a start point (a GOP is usually far less). */
const CC_SCAN_LIMIT = 50_000;

/**
 * Give the PAT/PMT copies of a start prefix continuity counters that run straight into
 * the next PAT/PMT packets the client will get from the ring at `from`, so a client
 * sees no continuity error on the PSI PIDs. When no later packet of a PID is in the ring
 * yet, the next one will follow the newest one already there (`lastIndexOf(pid)`, e.g.
 * where the analyzer saw the latest PAT/PMT): the copies continue from that one. (The
 * analyzer's copies keep the counters of when the table last *changed*, so they cannot
 * be used as they are.)
 * Returns true when the next packet of every PID was found: the result is then final
 * (later packets cannot change it); false means it holds only until more data arrives.
 */
export function continuePrefixCc(prefix: Buffer, ring: RingView, from: number, lastIndexOf: (pid: number) => number): boolean {
  const n = prefix.length / TS_PACKET_SIZE;
  const pids: number[] = [];
  for (let i = 0; i < n; i++) {
    const o = i * TS_PACKET_SIZE;
    if ((prefix[o + 3]! & 0x10) === 0) continue; // no payload: counter does not advance
    const pid = ((prefix[o + 1]! & 0x1f) << 8) | prefix[o + 2]!;
    if (!pids.includes(pid)) pids.push(pid);
  }
  const next = new Map<number, number>();
  const end = Math.min(ring.head, from + CC_SCAN_LIMIT);
  for (let i = from; i < end && next.size < pids.length; i++) {
    const p = ring.packetView(i);
    const pid = ((p[1]! & 0x1f) << 8) | p[2]!;
    if (pids.includes(pid) && !next.has(pid) && (p[3]! & 0x10)) next.set(pid, p[3]! & 0x0f);
  }
  const complete = next.size === pids.length;
  if (!complete) {
    for (const pid of pids) {
      if (next.has(pid)) continue;
      const at = lastIndexOf(pid);
      if (at < ring.tail || at >= ring.head) continue;
      const p = ring.packetView(at);
      if ((((p[1]! & 0x1f) << 8) | p[2]!) === pid) next.set(pid, ((p[3]! & 0x0f) + 1) & 0x0f);
    }
  }
  // Walk backwards so the last copy of each PID gets next-1, the one before next-2, ...
  for (let i = n - 1; i >= 0; i--) {
    const o = i * TS_PACKET_SIZE;
    if ((prefix[o + 3]! & 0x10) === 0) continue;
    const pid = ((prefix[o + 1]! & 0x1f) << 8) | prefix[o + 2]!;
    const cc = next.get(pid);
    if (cc === undefined) continue;
    const mine = (cc + 15) & 0x0f;
    prefix[o + 3] = (prefix[o + 3]! & 0xf0) | mine;
    next.set(pid, mine);
  }
  return complete;
}
