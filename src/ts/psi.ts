// Program Specific Information: section reassembly across packets, CRC-32/MPEG-2, and
// PAT/PMT parsing (ISO/IEC 13818-1, 2.4.4). Reassembly is allocation-free; parsing
// allocates result objects, which callers do only when a section's CRC changes.

import { TS_PACKET_SIZE, cc, discontinuity, payloadOffset, pusi } from './packet.js';

/** Largest section: 3 header bytes + section_length up to 4093 (private sections). */
const MAX_SECTION = 4096;
export const TABLE_PAT = 0x00;
export const TABLE_PMT = 0x02;

const CRC_TABLE = ((): Uint32Array => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32/MPEG-2 (poly 0x04C11DB7, init 0xFFFFFFFF, no reflection, no final xor) of
 * data[start, end). Over a whole section including its CRC_32 field the result is 0.
 */
export function crc32mpeg2(data: Uint8Array, start: number, end: number): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ data[i]!) & 0xff]!;
  return crc >>> 0;
}

/** Receives each complete section; `data` is the assembler's scratch, valid during the call. */
export interface SectionSink {
  onSection(asm: SectionAssembler, data: Buffer, len: number, packetIndex: number): void;
}

/** Staging room for the packets of a section that spans several (4096 / 183, rounded up). */
const MAX_STAGED = 23;

/**
 * Reassembles the sections of one PID into a preallocated 4 KiB scratch buffer. Packets
 * of a section spanning several are also kept (only then) so that the sink can ask for a
 * copy of all of them with `copyPackets` when it decides the section is new.
 */
export class SectionAssembler {
  readonly data = Buffer.alloc(MAX_SECTION);
  /** Bytes collected of the section in progress. */
  private have = 0;
  /** 0 idle, -1 header (3 bytes) incomplete, else the section's total length. */
  private need = 0;
  private lastCc = -1;
  private staged: Buffer | undefined;
  private stagedCount = 0;
  /** Staged packets belonging to the section being emitted (-1: too many, none copied). */
  private emitStaged = 0;
  private curBuf: Buffer | undefined;
  private curOff = 0;

  constructor(public pid: number) {}

  reset(pid = this.pid): void {
    this.pid = pid;
    this.have = 0;
    this.need = 0;
    this.lastCc = -1;
    this.stagedCount = 0;
    this.curBuf = undefined;
  }

  /** Feed one packet of this PID; complete sections go to `sink`. */
  push(buf: Buffer, off: number, packetIndex: number, sink: SectionSink): void {
    let p = payloadOffset(buf, off);
    if (p < 0) return;
    const end = off + TS_PACKET_SIZE;
    const c = cc(buf, off);
    if (this.lastCc >= 0 && !discontinuity(buf, off)) {
      if (c === this.lastCc) return; // a duplicate packet carries nothing new
      if (c !== ((this.lastCc + 1) & 0x0f)) this.need = 0; // lost a packet: drop the partial section
    }
    this.lastCc = c;
    this.curBuf = buf;
    this.curOff = off;
    let startedHere = false;
    if (pusi(buf, off)) {
      const ptr = buf[p]!;
      p++;
      if (this.need !== 0) {
        // The pointer_field bytes finish the previous section; if they do not, it is corrupt.
        this.emitStaged = this.stagedCount;
        this.fill(buf, p, Math.min(p + ptr, end), packetIndex, sink);
      }
      p += ptr;
      this.need = 0;
      while (p < end && buf[p] !== 0xff) {
        startedHere = true;
        this.have = 0;
        this.need = -1;
        this.emitStaged = 0;
        p = this.fill(buf, p, end, packetIndex, sink);
        if (this.need !== 0) break;
      }
    } else if (this.need !== 0) {
      this.emitStaged = this.stagedCount;
      this.fill(buf, p, end, packetIndex, sink);
    }
    this.curBuf = undefined;
    if (this.need === 0) this.stagedCount = 0;
    else this.stage(buf, off, startedHere);
  }

  /**
   * A copy of the packets that carried the section now being emitted (call only from
   * within onSection). The last one may also hold the start of the next section.
   */
  copyPackets(): Buffer | undefined {
    if (this.curBuf === undefined || this.emitStaged < 0) return undefined;
    const n = this.emitStaged;
    const out = Buffer.allocUnsafe((n + 1) * TS_PACKET_SIZE);
    if (n > 0) this.staged!.copy(out, 0, 0, n * TS_PACKET_SIZE);
    this.curBuf.copy(out, n * TS_PACKET_SIZE, this.curOff, this.curOff + TS_PACKET_SIZE);
    return out;
  }

  /** Append data[p, end) to the section in progress; emits it when complete. Returns the next position. */
  private fill(buf: Buffer, p: number, end: number, packetIndex: number, sink: SectionSink): number {
    if (this.need < 0) {
      const n = Math.min(3 - this.have, end - p);
      copyBytes(buf, p, this.data, this.have, n);
      this.have += n;
      p += n;
      if (this.have < 3) return end;
      const sectionLength = ((this.data[1]! & 0x0f) << 8) | this.data[2]!;
      if (sectionLength > MAX_SECTION - 3) {
        this.need = 0; // garbage: skip the rest of this packet
        return end;
      }
      this.need = 3 + sectionLength;
    }
    const n = Math.min(this.need - this.have, end - p);
    copyBytes(buf, p, this.data, this.have, n);
    this.have += n;
    p += n;
    if (this.have === this.need) {
      const len = this.need;
      this.need = 0;
      sink.onSection(this, this.data, len, packetIndex);
    }
    return p;
  }

  private stage(buf: Buffer, off: number, restart: boolean): void {
    if (restart) this.stagedCount = 0;
    if (this.stagedCount < 0) return;
    if (this.stagedCount >= MAX_STAGED) {
      this.stagedCount = -1; // pathological packetisation: give up on the copy, not on parsing
      return;
    }
    this.staged ??= Buffer.alloc(MAX_STAGED * TS_PACKET_SIZE);
    copyBytes(buf, off, this.staged, this.stagedCount * TS_PACKET_SIZE, TS_PACKET_SIZE);
    this.stagedCount++;
  }
}

/**
 * Byte loop instead of Buffer#copy: for a sub-range, copy() builds a Uint8Array view
 * per call, garbage on a per-packet path; these runs are short anyway.
 */
function copyBytes(src: Uint8Array, from: number, dst: Uint8Array, to: number, n: number): void {
  for (let i = 0; i < n; i++) dst[to + i] = src[from + i]!;
}

/** Fields common to long-form sections; `data` holds one whole section of `len` bytes. */
export function sectionVersion(data: Uint8Array): number {
  return (data[5]! >> 1) & 0x1f;
}

/** A section is usable when its syntax is long-form, it is current, and its CRC holds. */
export function isValidSection(data: Uint8Array, len: number): boolean {
  if (len < 12 || (data[1]! & 0x80) === 0) return false;
  return crc32mpeg2(data, 0, len) === 0;
}

/** The CRC_32 field: a cheap identity for "has this section changed". */
export function sectionCrc(data: Uint8Array, len: number): number {
  return ((data[len - 4]! << 24) | (data[len - 3]! << 16) | (data[len - 2]! << 8) | data[len - 1]!) >>> 0;
}

export interface PatEntry { program: number; pmtPid: number }

/** Programs of a PAT section (program 0, the network PID, is left out). */
export function parsePat(data: Uint8Array, len: number): PatEntry[] {
  const out: PatEntry[] = [];
  for (let p = 8; p + 4 <= len - 4; p += 4) {
    const program = (data[p]! << 8) | data[p + 1]!;
    if (program === 0) continue;
    out.push({ program, pmtPid: ((data[p + 2]! & 0x1f) << 8) | data[p + 3]! });
  }
  return out;
}

export interface EsInfo { pid: number; streamType: number; codec: string }
export interface ProgramInfo { program: number; pmtPid: number; pcrPid: number; streams: EsInfo[] }

/** Parse a PMT section (already validated) into a ProgramInfo. */
export function parsePmt(data: Uint8Array, len: number, pmtPid: number): ProgramInfo {
  const program = (data[3]! << 8) | data[4]!;
  const pcrPid = ((data[8]! & 0x1f) << 8) | data[9]!;
  const infoLen = ((data[10]! & 0x0f) << 8) | data[11]!;
  const streams: EsInfo[] = [];
  const stop = len - 4;
  let p = 12 + infoLen;
  while (p + 5 <= stop) {
    const streamType = data[p]!;
    const pid = ((data[p + 1]! & 0x1f) << 8) | data[p + 2]!;
    const esLen = ((data[p + 3]! & 0x0f) << 8) | data[p + 4]!;
    const dEnd = Math.min(p + 5 + esLen, stop);
    streams.push({ pid, streamType, codec: codecOf(streamType, data, p + 5, dEnd) });
    p += 5 + esLen;
  }
  return { program, pmtPid, pcrPid, streams };
}

const STREAM_TYPES: Record<number, string> = {
  0x01: 'mpeg1video', 0x02: 'mpeg2video', 0x03: 'mp2', 0x04: 'mp2', 0x0f: 'aac',
  0x10: 'mpeg4', 0x11: 'aac_latm', 0x15: 'timed_id3', 0x1b: 'h264', 0x24: 'hevc', 0x33: 'vvc',
  0x42: 'cavs', 0x81: 'ac3', 0x82: 'dts', 0x83: 'truehd', 0x84: 'eac3', 0x86: 'scte_35', 0x87: 'eac3',
  0xd1: 'dirac', 0xd2: 'avs2', 0xea: 'vc1',
};

/** Descriptor tags (DVB) and registration formats that name the codec of private streams. */
const DESCRIPTOR_CODECS: Record<number, string> = { 0x56: 'dvb_teletext', 0x59: 'dvb_subtitle', 0x6a: 'ac3', 0x7a: 'eac3', 0x7b: 'dts' };
const REGISTRATIONS: Record<string, string> = { 'AC-3': 'ac3', 'EAC3': 'eac3', 'HEVC': 'hevc', 'Opus': 'opus', 'BSSD': 's302m', 'KLVA': 'klv', 'ID3 ': 'timed_id3', 'VC-1': 'vc1' };

/** Codec name (ffprobe's spelling) for a stream type and its ES descriptors data[start, end). */
export function codecOf(streamType: number, data: Uint8Array, start: number, end: number): string {
  const known = STREAM_TYPES[streamType];
  if (known !== undefined) return known;
  if (streamType !== 0x06) return 'unknown';
  for (let p = start; p + 2 <= end; p += 2 + data[p + 1]!) {
    const tag = data[p]!;
    const byTag = DESCRIPTOR_CODECS[tag];
    if (byTag !== undefined) return byTag;
    if (tag === 0x05 && data[p + 1]! >= 4 && p + 6 <= end) {
      const fmt = String.fromCharCode(data[p + 2]!, data[p + 3]!, data[p + 4]!, data[p + 5]!);
      const byReg = REGISTRATIONS[fmt];
      if (byReg !== undefined) return byReg;
    }
  }
  return 'private';
}
