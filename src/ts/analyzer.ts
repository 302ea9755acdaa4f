// Per-stream MPEG-TS analysis for the hub: where the latest PAT, PMT and video random
// access point are (by absolute packet index), upstream continuity errors, and a GOP
// estimate. Called once per batch of aligned packets; allocation-free per packet
// (typed arrays indexed by PID); objects are built only when a PAT or PMT changes.

import { NULL_PID, PAT_PID, PID_COUNT, SYNC_BYTE, TS_PACKET_SIZE, discontinuity, payloadOffset, randomAccess } from './packet.js';
import { PCR_HZ, pcrForward, readPcr } from './pcr.js';
import {
  SectionAssembler, TABLE_PAT, TABLE_PMT, crc32mpeg2, parsePat, parsePmt, sectionCrc,
  type ProgramInfo, type SectionSink,
} from './psi.js';
import { RAP_UNDECIDED, RAP_YES, RapScanner, VideoKind, videoKindOf } from './rap.js';

export { setDiscontinuity } from './packet.js';
export type { EsInfo, ProgramInfo } from './psi.js';

/** Distinct PMT PIDs followed (more programs than this are listed in the PAT but not parsed). */
const MAX_PMT_PIDS = 32;
/** RAPs remembered for the GOP estimate. */
const GOP_HISTORY = 8;
/** Packets of a PES searched for the keyframe decision (the first, and the second). */
const RAP_SCAN_PACKETS = 2;
/** A PCR step between two RAPs beyond this is a time base jump, not a GOP. */
const MAX_PCR_GAP = 60 * PCR_HZ;

interface ProgramState { program: number; pmtPid: number; crc: number; len: number; info: ProgramInfo | undefined }

export class StreamAnalyzer implements SectionSink {
  private ccErrors = 0;
  private crcErrs = 0;
  private raps = 0;

  private readonly lastCc = new Int8Array(PID_COUNT).fill(-1);
  private readonly dupSeen = new Uint8Array(PID_COUNT);
  /** PID -> index into `asms` (0 = PAT), -1 when the PID carries no tracked PSI. */
  private readonly psiSlot = new Int16Array(PID_COUNT).fill(-1);
  private readonly asms: SectionAssembler[] = [new SectionAssembler(PAT_PID)];
  private readonly scanner = new RapScanner();

  private patIdx = -1;
  private pmtIdx = -1;
  private patCrc = -1;
  private patLen = 0;
  private patPkts: Buffer | undefined;
  private pmtPkts: Buffer | undefined;
  private progs: ProgramState[] = [];
  private programList: readonly ProgramInfo[] = [];
  private pcrPidList: readonly number[] = [];

  private vPid = -1;
  private vKind: VideoKind = VideoKind.None;
  private vCodec: string | undefined;
  private scanning = false;
  private scanIndex = 0;
  private scanPackets = 0;
  private lastRap = -1;
  private rapTime = -1;

  private pcrPid = -1;
  private lastPcr = -1;
  /** Bumped on each time base discontinuity so GOP intervals never span one in PCR terms. */
  private pcrEpoch = 0;
  private histCount = 0;
  private readonly rapIdx = new Float64Array(GOP_HISTORY);
  private readonly rapPcr = new Float64Array(GOP_HISTORY);
  private readonly rapEpoch = new Float64Array(GOP_HISTORY);
  private readonly rapWall = new Float64Array(GOP_HISTORY);

  constructor(private readonly now: () => number = Date.now) {
    this.psiSlot[PAT_PID] = 0;
  }

  /** Upstream continuity errors since construction, summed over PIDs (kept across reset(): a counter). */
  get continuityErrors(): number { return this.ccErrors; }
  /** PSI sections dropped for a bad CRC since construction (kept across reset()). */
  get crcErrors(): number { return this.crcErrs; }
  /** Random access points seen since the last reset(). */
  get rapCount(): number { return this.raps; }
  /** Absolute index of the last packet of the most recent valid PAT, -1 if none. */
  get patIndex(): number { return this.patIdx; }
  /** Same for the PMT of the first program. */
  get pmtIndex(): number { return this.pmtIdx; }
  /** Absolute index of the first packet of the most recent keyframe PES on the video PID, -1 if none. */
  get lastRapIndex(): number { return this.lastRap; }
  /** Clock time (the constructor's `now`) when lastRapIndex was found, -1 if none. */
  get rapTimeMs(): number { return this.rapTime; }
  get videoPid(): number { return this.vPid; }
  get videoCodec(): string | undefined { return this.vCodec; }
  /** Programs whose PMT has been seen, in PAT order. */
  get programs(): readonly ProgramInfo[] { return this.programList; }
  get pcrPids(): readonly number[] { return this.pcrPidList; }
  /** The PCR (27 MHz) last read on the first program's PCR PID, -1 if none since that PID was set. */
  get pcr(): number { return this.lastPcr; }
  /** New at each time base discontinuity and PCR PID change: PCRs of different epochs do not compare. */
  get pcrEpochNumber(): number { return this.pcrEpoch; }
  /** The packets of the last PAT, copied when it changed. Shared: copy before mutating. */
  get patPackets(): Buffer | undefined { return this.patPkts; }
  /** The packets of the first program's last PMT, copied when it changed. Shared: copy before mutating. */
  get pmtPackets(): Buffer | undefined { return this.pmtPkts; }

  /** Mean distance in packets between the last few RAPs, -1 until two were seen. */
  get gopPackets(): number {
    const n = Math.min(this.histCount, GOP_HISTORY);
    if (n < 2) return -1;
    const newest = (this.histCount - 1) % GOP_HISTORY;
    const oldest = (this.histCount - n) % GOP_HISTORY;
    return (this.rapIdx[newest]! - this.rapIdx[oldest]!) / (n - 1);
  }

  /** Mean time between the last few RAPs in ms, by PCR where it is continuous, else by clock; -1 if unknown. */
  get gopMs(): number {
    const n = Math.min(this.histCount, GOP_HISTORY);
    if (n < 2) return -1;
    let sum = 0;
    for (let j = this.histCount - n + 1; j < this.histCount; j++) {
      const a = (j - 1) % GOP_HISTORY, b = j % GOP_HISTORY;
      const pa = this.rapPcr[a]!, pb = this.rapPcr[b]!;
      const d = pa >= 0 && pb >= 0 && this.rapEpoch[a] === this.rapEpoch[b] ? pcrForward(pa, pb) : -1;
      sum += d >= 0 && d <= MAX_PCR_GAP ? (d * 1000) / PCR_HZ : this.rapWall[b]! - this.rapWall[a]!;
    }
    return sum / (n - 1);
  }

  /** Inspect `count` aligned packets at `offset` of `buf`; the first has absolute index `firstIndex`. */
  scan(buf: Buffer, offset: number, count: number, firstIndex: number): void {
    const lastCc = this.lastCc, dup = this.dupSeen, slots = this.psiSlot;
    let off = offset;
    for (let i = 0; i < count; i++, off += TS_PACKET_SIZE) {
      const b1 = buf[off + 1]!;
      const pid = ((b1 & 0x1f) << 8) | buf[off + 2]!;
      // Null packets have no CC rule; a damaged header (TEI, lost sync) may name any PID.
      if (pid === NULL_PID || (b1 & 0x80) !== 0 || buf[off] !== SYNC_BYTE) continue;
      const b3 = buf[off + 3]!;
      const disc = (b3 & 0x20) !== 0 && discontinuity(buf, off);
      if ((b3 & 0x10) !== 0) {
        // CC only advances on packets with payload; one duplicate in a row is legal.
        const c = b3 & 0x0f, last = lastCc[pid]!;
        if (last >= 0 && !disc) {
          if (c === last) {
            if (dup[pid] !== 0) this.ccErrors++;
            dup[pid] = 1;
          } else {
            if (c !== ((last + 1) & 0x0f)) this.ccErrors++;
            dup[pid] = 0;
          }
        } else dup[pid] = 0;
        lastCc[pid] = c;
      }
      if (pid === this.pcrPid && (b3 & 0x20) !== 0) {
        if (disc) this.pcrEpoch++;
        const pcr = readPcr(buf, off);
        if (pcr >= 0) this.lastPcr = pcr;
      }
      const slot = slots[pid]!;
      if (slot >= 0) this.asms[slot]!.push(buf, off, firstIndex + i, this);
      else if (pid === this.vPid) this.video(buf, off, firstIndex + i, b1, b3);
    }
  }

  /** Upstream switch: forget all stream state (the error counters keep counting). */
  reset(): void {
    this.lastCc.fill(-1);
    this.dupSeen.fill(0);
    this.psiSlot.fill(-1);
    this.psiSlot[PAT_PID] = 0;
    this.asms[0]!.reset();
    this.asms.length = 1;
    this.patIdx = this.pmtIdx = -1;
    this.patCrc = -1;
    this.patLen = 0;
    this.patPkts = this.pmtPkts = undefined;
    this.progs = [];
    this.programList = [];
    this.pcrPidList = [];
    this.setVideo(-1, VideoKind.None, undefined);
    this.raps = 0;
    this.setPcrPid(-1);
  }

  /** SectionSink: a complete section on a PSI PID. */
  onSection(asm: SectionAssembler, data: Buffer, len: number, packetIndex: number): void {
    if (len < 12 || (data[1]! & 0x80) === 0) return; // not a long-form section
    if (crc32mpeg2(data, 0, len) !== 0) {
      this.crcErrs++;
      return;
    }
    if ((data[5]! & 0x01) === 0) return; // current_next_indicator: not in force yet
    const crc = sectionCrc(data, len);
    if (asm === this.asms[0]) {
      // Multi-section PATs are rare (a section holds 253 programs): only section 0 is read.
      if (data[0] === TABLE_PAT && data[6] === 0) this.onPat(asm, data, len, packetIndex, crc);
    } else if (data[0] === TABLE_PMT) {
      this.onPmt(asm, data, len, packetIndex, crc);
    }
  }

  private onPat(asm: SectionAssembler, data: Buffer, len: number, packetIndex: number, crc: number): void {
    this.patIdx = packetIndex;
    if (crc === this.patCrc && len === this.patLen) return;
    this.patCrc = crc;
    this.patLen = len;
    this.patPkts = asm.copyPackets();
    const oldFirst = this.progs[0];
    const old = this.progs;
    this.progs = parsePat(data, len).map((e): ProgramState => {
      for (const o of old) if (o.program === e.program && o.pmtPid === e.pmtPid) return o;
      return { program: e.program, pmtPid: e.pmtPid, crc: -1, len: 0, info: undefined };
    });
    const first = this.progs[0];
    if (first !== oldFirst) {
      this.pmtIdx = -1;
      this.pmtPkts = undefined;
    }
    this.assignPmtSlots();
    this.refresh();
  }

  private onPmt(asm: SectionAssembler, data: Buffer, len: number, packetIndex: number, crc: number): void {
    const program = (data[3]! << 8) | data[4]!;
    let st: ProgramState | undefined;
    for (const p of this.progs) if (p.program === program && p.pmtPid === asm.pid) { st = p; break; }
    if (st === undefined) return;
    const first = st === this.progs[0];
    if (first) this.pmtIdx = packetIndex;
    if (crc === st.crc && len === st.len) return;
    st.crc = crc;
    st.len = len;
    st.info = parsePmt(data, len, asm.pid);
    if (first) this.pmtPkts = asm.copyPackets();
    this.refresh();
  }

  /** Map the PAT's PMT PIDs onto assemblers, keeping those whose PID did not change. */
  private assignPmtSlots(): void {
    for (let k = 1; k < this.asms.length; k++) this.psiSlot[this.asms[k]!.pid] = -1;
    const old = this.asms.splice(1);
    for (const p of this.progs) {
      const pid = p.pmtPid;
      if (pid === PAT_PID || pid === NULL_PID || this.psiSlot[pid] !== -1) continue;
      if (this.asms.length > MAX_PMT_PIDS) break;
      // An assembler already on this PID may be mid-section: keep it.
      const i = old.findIndex((a) => a.pid === pid);
      this.psiSlot[pid] = this.asms.length;
      this.asms.push(i >= 0 ? old.splice(i, 1)[0]! : new SectionAssembler(pid));
    }
  }

  /** Recompute the derived views after a PAT or PMT change. */
  private refresh(): void {
    const infos: ProgramInfo[] = [];
    const pcrs: number[] = [];
    for (const p of this.progs) {
      if (p.info === undefined) continue;
      infos.push(p.info);
      if (p.info.pcrPid !== NULL_PID && !pcrs.includes(p.info.pcrPid)) pcrs.push(p.info.pcrPid);
    }
    this.programList = infos;
    this.pcrPidList = pcrs;
    const first = this.progs[0]?.info;
    let pid = -1, kind: VideoKind = VideoKind.None, codec: string | undefined;
    if (first !== undefined) {
      for (const s of first.streams) {
        const k = videoKindOf(s.streamType);
        if (k !== VideoKind.None) { pid = s.pid; kind = k; codec = s.codec; break; }
      }
    }
    if (pid !== this.vPid || kind !== this.vKind) this.setVideo(pid, kind, codec);
    const pcrPid = first === undefined || first.pcrPid === NULL_PID ? -1 : first.pcrPid;
    if (pcrPid !== this.pcrPid) this.setPcrPid(pcrPid);
  }

  private setVideo(pid: number, kind: VideoKind, codec: string | undefined): void {
    this.vPid = pid;
    this.vKind = kind;
    this.vCodec = codec;
    this.scanning = false;
    this.lastRap = -1;
    this.rapTime = -1;
    this.histCount = 0;
  }

  private setPcrPid(pid: number): void {
    this.pcrPid = pid;
    this.lastPcr = -1;
    this.pcrEpoch++;
  }

  private video(buf: Buffer, off: number, index: number, b1: number, b3: number): void {
    const end = off + TS_PACKET_SIZE;
    if ((b1 & 0x40) !== 0) {
      if (this.scanning) this.endScan();
      if (randomAccess(buf, off)) {
        this.onRap(index);
        return;
      }
      if ((b3 & 0xc0) !== 0) return; // scrambled: only the adaptation field can tell
      const pl = payloadOffset(buf, off);
      // A PES start with the MPEG-2 optional header ('10' marker bits).
      if (pl < 0 || pl + 9 > end || buf[pl] !== 0 || buf[pl + 1] !== 0 || buf[pl + 2] !== 1) return;
      if ((buf[pl + 6]! & 0xc0) !== 0x80) return;
      const es = pl + 9 + buf[pl + 8]!;
      this.scanner.begin(this.vKind, es > end ? es - end : 0);
      this.scanning = true;
      this.scanIndex = index;
      this.scanPackets = 1;
      this.step(this.scanner.feed(buf, es > end ? end : es, end));
    } else if (this.scanning) {
      const pl = payloadOffset(buf, off);
      if (pl < 0) return;
      this.scanPackets++;
      this.step(this.scanner.feed(buf, pl, end));
    }
  }

  private step(r: number): void {
    if (r !== RAP_UNDECIDED) {
      this.scanning = false;
      if (r === RAP_YES) this.onRap(this.scanIndex);
    } else if (this.scanPackets >= RAP_SCAN_PACKETS) this.endScan();
  }

  private endScan(): void {
    this.scanning = false;
    if (this.scanner.finish()) this.onRap(this.scanIndex);
  }

  private onRap(index: number): void {
    this.lastRap = index;
    this.rapTime = this.now();
    this.raps++;
    const k = this.histCount % GOP_HISTORY;
    this.rapIdx[k] = index;
    this.rapPcr[k] = this.lastPcr;
    this.rapEpoch[k] = this.pcrEpoch;
    this.rapWall[k] = this.rapTime;
    this.histCount++;
  }
}
