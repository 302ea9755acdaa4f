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
