import type { StreamAnalyzer } from '../ts/analyzer.js';
import { TS_PACKET_SIZE } from '../ts/packet.js';
import { NULL_PID, setDiscontinuity } from '../ts/packet.js';

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
 * An adaptation-field-only packet with discontinuity_indicator set, carrying counter `cc`.
 * It has no payload, so it does not advance the counter (ISO 13818-1 2.4.3.3): the next
 * payload packet of `pid` must carry cc + 1. Its discontinuity_indicator excuses the jump
 * from what came before it and, on a PCR PID, announces a new time base.
 */
function discontinuityPacket(pid: number, cc: number, out: Buffer, o: number): void {
  out[o] = 0x47;
  out[o + 1] = (pid >> 8) & 0x1f;
  out[o + 2] = pid & 0xff;
  out[o + 3] = 0x20 | (cc & 0x0f); // adaptation field only
  out[o + 4] = TS_PACKET_SIZE - 5;
  out[o + 5] = 0x80; // discontinuity_indicator
  out.fill(0xff, o + 6, o + TS_PACKET_SIZE);
}

/** Ring access needed to continue continuity counters (PacketRing satisfies it). */
interface RingView { readonly head: number; readonly tail: number; packetView(index: number): Buffer }

/** What the hub's continuity counters know (a CcContinuer over its ring). */
export interface CcView {
  readonly sessionNumber: number;
  lastCc(pid: number): number;
  lastSession(pid: number): number;
}

/** Packets scanned for the next PAT/PMT after a start point (a GOP is usually far less). */
const CC_SCAN_LIMIT = 50_000;

const pidAt = (b: Buffer, o: number): number => ((b[o + 1]! & 0x1f) << 8) | b[o + 2]!;

/**
 * What a client receives before joining at random access point `rap`: the current PAT and
 * PMT, with continuity counters that run into the ring from there (continuePrefixCc).
 * Undefined when no PAT/PMT is known yet. `final`: see continuePrefixCc.
 *
 * `splice` (the client was watching through an upstream switch): every PID's first packet
 * from here on carries the discontinuity_indicator, PSI/SI included, and every counter runs
 * on into the ring, so a decoder resets its continuity and time base cleanly and sees no
 * continuity error at all. The PAT/PMT copies carry the flag themselves (an adaptation field
 * made from their stuffing); a copy without room for it is preceded by a marker. Every
 * other PID seen in this or the previous upstream session (elementary streams, PCR, SDT,
 * EIT, other programs' PMTs ...) gets an adaptation-only marker whose counter is the one
 * its next packet in the ring follows on from.
 */
export function startPrefix(a: StreamAnalyzer, ring: RingView, rap: number, cc: CcView, splice: boolean): { buf: Buffer; final: boolean } | undefined {
  const pat = a.patPackets;
  const pmt = a.pmtPackets;
  if (!pat || !pmt) return undefined;
  const psi = Buffer.concat([pat, pmt]);
  const final = continuePrefixCc(psi, ring, rap, (pid) => cc.lastCc(pid));
  if (!splice) return { buf: psi, final };

  const psiPids: number[] = [];
  const front: number[] = []; // [pid, cc] pairs for copies that cannot carry the flag
  for (let o = 0; o < psi.length; o += TS_PACKET_SIZE) {
    const pid = pidAt(psi, o);
    if (psiPids.includes(pid)) continue;
    psiPids.push(pid);
    if (!setDiscontinuity(psi, o, true)) front.push(pid, (psi[o + 3]! + 15) & 0x0f);
  }
  // Markers: the program's streams first (decoders meet them first), then everything else.
  const pids: number[] = [];
  for (const p of a.programs) {
    if (p.pcrPid !== NULL_PID && !pids.includes(p.pcrPid)) pids.push(p.pcrPid);
    for (const s of p.streams) if (!pids.includes(s.pid)) pids.push(s.pid);
  }
  const recent = Math.max(1, cc.sessionNumber - 1);
  for (let pid = 0; pid < NULL_PID; pid++) if (cc.lastSession(pid) >= recent && !pids.includes(pid)) pids.push(pid);
  const markers = pids.filter((pid) => !psiPids.includes(pid) && cc.lastSession(pid) >= recent);
  const prev = prevCounters(ring, rap, markers, cc);
  const out = Buffer.allocUnsafe((front.length / 2 + markers.length) * TS_PACKET_SIZE + psi.length);
  let o = 0;
  for (let i = 0; i < front.length; i += 2, o += TS_PACKET_SIZE) discontinuityPacket(front[i]!, front[i + 1]!, out, o);
  psi.copy(out, o);
  o += psi.length;
  for (const pid of markers) {
    discontinuityPacket(pid, prev.get(pid)!, out, o);
    o += TS_PACKET_SIZE;
  }
  return { buf: out, final };
}

/**
 * For each PID, the counter its next packet in the ring from `from` follows on from: that
 * packet's counter minus one for a payload packet, the same for an adaptation-only one.
 * A PID with no packet there yet continues from its last counter (the continuer sees to it).
 */
function prevCounters(ring: RingView, from: number, pids: readonly number[], cc: CcView): Map<number, number> {
  const prev = new Map<number, number>();
  const want = new Set(pids);
  const end = Math.min(ring.head, from + CC_SCAN_LIMIT);
  for (let i = Math.max(from, ring.tail); i < end && want.size > 0; i++) {
    const p = ring.packetView(i);
    const pid = pidAt(p, 0);
    if (!want.has(pid)) continue;
    want.delete(pid);
    prev.set(pid, (p[3]! & 0x10) !== 0 ? ((p[3]! & 0x0f) + 15) & 0x0f : p[3]! & 0x0f);
  }
  for (const pid of want) prev.set(pid, Math.max(0, cc.lastCc(pid)));
  return prev;
}

/**
 * Give the PAT/PMT copies of a start prefix continuity counters that run straight into
 * the next PAT/PMT packets the client will get from the ring at `from`, so a client
 * sees no continuity error on the PSI PIDs. When no later packet of a PID is in the ring
 * yet, the next one will follow on from `lastCc(pid)`, the counter last written to the
 * ring on it (the hub's continuer keeps each PID's counters running, across upstream
 * switches too): the copies end there. (The analyzer's copies keep the counters of when
 * the table last *changed*, so they cannot be used as they are.)
 * Returns true when the next packet of every PID was found: the result is then final
 * (later packets cannot change it); false means it holds only until more data arrives.
 */
export function continuePrefixCc(prefix: Buffer, ring: RingView, from: number, lastCc: (pid: number) => number): boolean {
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
      const last = lastCc(pid);
      if (last >= 0) next.set(pid, (last + 1) & 0x0f);
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
