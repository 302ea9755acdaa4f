// Stream health checks of one upstream: ETSI TR 101 290 priority 1 and 2 indicators
// and `scrambled` (docs/health.md). Fed whole aligned packets in batches, and the sync
// events the aligner sees before it drops bytes. Pure: the caller hands in the time of
// each call, nothing here reads a clock. Allocation-free per packet (typed arrays indexed
// by PID); objects are built only when a PAT or PMT changes and at a raise or a clear.
//
// Time: each call advances an arrival clock by the caller's time since the previous call,
// but by at most MAX_STEP_MS: while nothing arrives at all the connection is stalled,
// which is the connection checks' business (`readtimeout`), not a missing table's or PID's.
// The timeouts (PAT, PMT, watched PIDs, PCR absence) run on this clock; the PCR and PTS
// intervals on the stream's own clock (src/ts/pcrtiming.ts). Errors and alarm states are
// kept in src/ts/alarms.ts.

import { AlarmBoard, INDICATORS, Ind, type AlarmListener, type Indicator } from './alarms.js';
import { NULL_PID, PAT_PID, PID_COUNT, TS_PACKET_SIZE, payloadOffset } from './packet.js';
import { readPcr } from './pcr.js';
import { PTS_SLOTS, PcrTiming } from './pcrtiming.js';
import { SectionAssembler, TABLE_PAT, TABLE_PMT, crc32mpeg2, parsePat, parsePmt, sectionCrc, type EsInfo, type SectionSink } from './psi.js';

export type { AlarmEvent, AlarmListener, Indicator } from './alarms.js';

/** Every threshold, in ms. The first three are the stream keys `pidtimeout`, `pcrinterval`, `alarmclear` (in s). */
export interface HealthThresholds {
  /** A watched PID (the program's video, its first audio) absent longer than this: pid_error. */
  pidTimeoutMs: number;
  /** PCRs further apart than this: pcr_repetition_error (ISO 13818-1's limit; DVB's is 40). */
  pcrIntervalMs: number;
  /** A raised indicator clears after this long without an error. */
  alarmClearMs: number;
  /** PAT, or a PMT named in it, missing longer than this: pat_error, pmt_error. */
  psiTimeoutMs: number;
  /** A PCR jump beyond this without the discontinuity indicator: pcr_discontinuity_error. */
  pcrJumpMs: number;
  /** PTS on a watched PID further apart than this (stream time): pts_error. */
  ptsIntervalMs: number;
  /** Counted errors raise their indicator when they occur in two consecutive windows of this length. */
  windowMs: number;
}

export const DEFAULT_THRESHOLDS: Readonly<HealthThresholds> = Object.freeze({
  pidTimeoutMs: 2000, pcrIntervalMs: 100, alarmClearMs: 5000,
  psiTimeoutMs: 500, pcrJumpMs: 100, ptsIntervalMs: 700, windowMs: 1000,
});

export interface Tr101290Options extends Partial<HealthThresholds> {
  /** Called once per raise and once per clear, synchronously from the call that caused it. */
  onAlarm?: AlarmListener;
}

/** Arrival time counted at most between two calls (see the top of the file). */
const MAX_STEP_MS = 250;
const SDT_PID = 0x11;
/** Distinct PMT PIDs followed (as in analyzer.ts). */
const MAX_PMT_PIDS = 32;
/** Assembler slots before the PMTs': the PAT's and the SDT's. */
const PMT_SLOT0 = 2;

/** Role bits per PID: what a packet on it is checked for beyond CC and TEI. */
const R_PSI = 1, R_PMT = 2, R_PCR = 4, R_WATCH0 = 8, R_WATCH1 = 16;
const R_WATCH = [R_WATCH0, R_WATCH1] as const;

/** Codec names (psi.ts's codecOf) of the elementary streams the watched PIDs are chosen from. */
const VIDEO_CODECS = new Set(['mpeg1video', 'mpeg2video', 'mpeg4', 'h264', 'hevc', 'vvc', 'cavs', 'dirac', 'avs2', 'vc1']);
const AUDIO_CODECS = new Set(['mp2', 'aac', 'aac_latm', 'ac3', 'eac3', 'dts', 'truehd', 'opus', 's302m']);

export class Tr101290 implements SectionSink {
  private readonly th: HealthThresholds;
  private readonly board: AlarmBoard;
  private readonly timing: PcrTiming;
  private readonly lastCc = new Int8Array(PID_COUNT).fill(-1);
  private readonly dup = new Uint8Array(PID_COUNT);
  private readonly role = new Uint8Array(PID_COUNT);
  private readonly psiSlot = new Int16Array(PID_COUNT).fill(-1);
  /** [PAT, SDT, PMT...]; the arrays below are indexed alike (the SDT's entries unused). */
  private readonly asms: SectionAssembler[] = [new SectionAssembler(PAT_PID), new SectionAssembler(SDT_PID)];
  private readonly psiSeen = new Float64Array(PMT_SLOT0 + MAX_PMT_PIDS);
  private readonly psiMissing = new Uint8Array(PMT_SLOT0 + MAX_PMT_PIDS);
  private patCrc = -1;
  private patLen = 0;
  /** The program checked for PIDs, PCR and PTS: the first in the PAT. */
  private program = -1;
  private programPmtPid = -1;
  private pmtCrc = -1;
  private pmtLen = 0;
  private readonly watchPid = new Int32Array(PTS_SLOTS).fill(-1);
  private readonly watchSeen = new Float64Array(PTS_SLOTS);
  private readonly watchMissing = new Uint8Array(PTS_SLOTS);
  private pcrPid = -1;
  /** The arrival clock (see the top of the file) and the caller's time of the last call. */
  private t = 0;
  private lastNow = NaN;
  /** Packets pushed so far: the index of the next one. */
  private packets = 0;

  constructor(opts: Tr101290Options = {}) {
    const th = { ...DEFAULT_THRESHOLDS };
    for (const k of Object.keys(th) as (keyof HealthThresholds)[]) {
      const v = opts[k];
      if (v === undefined) continue;
      if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${k} must be a positive number of ms, not ${v}`);
      th[k] = v;
    }
    this.th = th;
    this.board = new AlarmBoard(th.windowMs, th.alarmClearMs, opts.onAlarm);
    this.timing = new PcrTiming(this.board, th);
    this.role[PAT_PID] = R_PSI;
    this.psiSlot[PAT_PID] = 0;
    this.role[SDT_PID] = R_PSI;
    this.psiSlot[SDT_PID] = 1;
  }

  /** Errors counted so far for `indicator`. */
  count(indicator: Indicator): number { return this.board.count(INDICATORS.indexOf(indicator)); }

  /** Every indicator's error count (a new object: not for per-packet use). */
  counts(): Record<Indicator, number> {
    const out = {} as Record<Indicator, number>;
    INDICATORS.forEach((name, i) => { out[name] = this.board.count(i); });
    return out;
  }

  isRaised(indicator: Indicator): boolean { return this.board.isRaised(INDICATORS.indexOf(indicator)); }

  /** The raised indicators, in INDICATORS order. */
  get alarms(): Indicator[] {
    return this.board.anyRaised ? INDICATORS.filter((_, i) => this.board.isRaised(i)) : [];
  }

  /** The PIDs watched (-1: none): the program's video, its first audio, its PCR PID. */
  get watched(): { video: number; audio: number; pcr: number } {
    return { video: this.watchPid[0]!, audio: this.watchPid[1]!, pcr: this.pcrPid };
  }

  /**
   * The aligner lost the packet grid and has to search for it again (garbage, or a run of
   * corrupted sync bytes): one ts_sync_loss.
   */
  syncLoss(nowMs: number): void {
    this.board.event(Ind.TsSyncLoss, this.advance(nowMs));
    this.board.settle(this.t);
  }

  /**
   * The aligner found `count` sync bytes missing where its packet grid expected them but
   * kept (or at once regained) the grid: packets cut short, or bytes inserted between two.
   */
  syncByteErrors(count: number, nowMs: number): void {
    if (count > 0) this.board.event(Ind.SyncByte, this.advance(nowMs), count);
    this.board.settle(this.t);
  }

  /** Check `count` aligned packets at `offset` of `buf`, arrived at the caller's time `nowMs`. */
  push(buf: Buffer, offset: number, count: number, nowMs: number): void {
    const t = this.advance(nowMs);
    const lastCc = this.lastCc, dup = this.dup, role = this.role, board = this.board;
    let off = offset;
    for (let i = 0; i < count; i++, off += TS_PACKET_SIZE) {
      const b1 = buf[off + 1]!;
      const pid = ((b1 & 0x1f) << 8) | buf[off + 2]!;
      if ((b1 & 0x80) !== 0) board.event(Ind.Transport, t);
      if (pid === NULL_PID) continue;
      const b3 = buf[off + 3]!;
      const disc = (b3 & 0x20) !== 0 && buf[off + 4]! > 0 && (buf[off + 5]! & 0x80) !== 0;
      if ((b3 & 0x10) !== 0) {
        // CC advances on payload packets only; the first of a PID, a flagged discontinuity
        // and one duplicate in a row (ISO 13818-1 2.4.3.3) are not errors.
        const c = b3 & 0x0f, last = lastCc[pid]!;
        if (last >= 0 && !disc) {
          if (c === last) {
            if (dup[pid] !== 0) board.event(Ind.Cc, t);
            dup[pid] = 1;
          } else {
            if (c !== ((last + 1) & 0x0f)) board.event(Ind.Cc, t);
            dup[pid] = 0;
          }
        } else dup[pid] = 0;
        lastCc[pid] = c;
      }
      const r = role[pid]!;
      if (r !== 0) this.special(buf, off, pid, r, b1, b3, disc, this.packets + i);
    }
    this.packets += count;
    this.checkTimeouts(t);
    board.settle(t);
  }

  /** SectionSink: a complete section on the PAT, SDT or a PMT PID. */
  onSection(asm: SectionAssembler, data: Buffer, len: number): void {
    const pid = asm.pid;
    if (pid === PAT_PID && data[0] !== TABLE_PAT) { this.board.event(Ind.Pat, this.t); return; }
    if (len < 12 || (data[1]! & 0x80) === 0) return; // short form: no CRC to check
    if (crc32mpeg2(data, 0, len) !== 0) { this.board.event(Ind.Crc, this.t); return; }
    if (pid === SDT_PID || (data[5]! & 0x01) === 0) return; // SDT: CRC only; not yet current
    if (pid === PAT_PID) {
      this.arrived(0, Ind.Pat);
      // Multi-section PATs are rare (a section holds 253 programs): only section 0 is read.
      if (data[6] === 0) this.onPat(data, len);
    } else if (data[0] === TABLE_PMT) {
      this.arrived(this.psiSlot[pid]!, Ind.Pmt);
      const program = (data[3]! << 8) | data[4]!;
      if (pid === this.programPmtPid && program === this.program) this.onPmt(data, len, pid);
    }
  }

  private advance(nowMs: number): number {
    const step = nowMs - this.lastNow; // NaN on the first call
    this.lastNow = nowMs;
    if (step > 0) this.t += step < MAX_STEP_MS ? step : MAX_STEP_MS;
    this.board.wallMs = nowMs;
    return this.t;
  }

  /** A packet on a PID with a role: PSI, PCR, a watched elementary stream. */
  private special(buf: Buffer, off: number, pid: number, r: number, b1: number, b3: number, disc: boolean, index: number): void {
    const scrambled = (b3 & 0xc0) !== 0;
    // A packet flagged as damaged is counted (transport_error) and its content not read.
    const readable = (b1 & 0x80) === 0 && !scrambled;
    // The PCR first (the adaptation field comes before the payload); scrambling never
    // covers the adaptation field, so a scrambled packet's PCR is read too.
    if ((r & R_PCR) !== 0 && (b3 & 0x20) !== 0 && (b1 & 0x80) === 0) {
      const pcr = readPcr(buf, off);
      if (pcr >= 0) this.timing.pcr(pcr, index, disc, this.t);
    }
    if ((r & (R_WATCH0 | R_WATCH1)) !== 0) {
      const slot = (r & R_WATCH0) !== 0 ? 0 : 1;
      // A gap that ended between two checks is found on the packet that ends it.
      if (this.t - this.watchSeen[slot]! > this.th.pidTimeoutMs && this.watchMissing[slot] === 0) this.board.hold(Ind.Pid, this.t, 1);
      this.watchSeen[slot] = this.t;
      if (scrambled) {
        this.board.event(Ind.Scrambled, this.t);
        this.timing.clearPts(slot); // PTS unreadable: not judged until the next one seen
      } else if (readable && (b1 & 0x40) !== 0 && hasPts(buf, off)) this.timing.pts(slot, index, this.t);
    }
    if ((r & R_PSI) !== 0) {
      if (scrambled && pid === PAT_PID) this.board.event(Ind.Pat, this.t);
      else if (scrambled && (r & R_PMT) !== 0) this.board.event(Ind.Pmt, this.t);
      else if (readable) this.asms[this.psiSlot[pid]!]!.push(buf, off, index, this);
    }
  }

  /** A PAT or PMT at slot `k` arrived; a gap beyond the timeout that ended between two checks counts here. */
  private arrived(k: number, ind: number): void {
    if (this.t - this.psiSeen[k]! > this.th.psiTimeoutMs && this.psiMissing[k] === 0) this.board.hold(ind, this.t, 1);
    this.psiSeen[k] = this.t;
  }

  private checkTimeouts(t: number): void {
    const limit = this.th.psiTimeoutMs;
    let fresh = 0, holds = false;
    for (let k = 0; k < this.asms.length; k++) {
      if (k === 1) continue; // the SDT has no timeout here
      const missing = t - this.psiSeen[k]! > limit;
      if (missing && this.psiMissing[k] === 0) fresh++;
      this.psiMissing[k] = missing ? 1 : 0;
      if (k === 0) {
        if (missing) this.board.hold(Ind.Pat, t, fresh);
        fresh = 0;
      } else holds ||= missing;
    }
    if (holds) this.board.hold(Ind.Pmt, t, fresh);
    fresh = 0;
    holds = false;
    for (let s = 0; s < PTS_SLOTS; s++) {
      const missing = this.watchPid[s]! >= 0 && t - this.watchSeen[s]! > this.th.pidTimeoutMs;
      if (missing && this.watchMissing[s] === 0) fresh++;
      this.watchMissing[s] = missing ? 1 : 0;
      holds ||= missing;
    }
    if (holds) this.board.hold(Ind.Pid, t, fresh);
    this.timing.check(t);
  }

  private onPat(data: Buffer, len: number): void {
    const crc = sectionCrc(data, len);
    if (crc === this.patCrc && len === this.patLen) return;
    this.patCrc = crc;
    this.patLen = len;
    const programs = parsePat(data, len);
    this.assignPmtSlots(programs.map((p) => p.pmtPid));
    const first = programs[0];
    if (first?.program !== this.program || first.pmtPid !== this.programPmtPid) {
      this.program = first?.program ?? -1;
      this.programPmtPid = first?.pmtPid ?? -1;
      this.pmtCrc = -1;
      this.setProgram([], NULL_PID);
    }
  }

  private onPmt(data: Buffer, len: number, pid: number): void {
    const crc = sectionCrc(data, len);
    if (crc === this.pmtCrc && len === this.pmtLen) return;
    this.pmtCrc = crc;
    this.pmtLen = len;
    const info = parsePmt(data, len, pid);
    this.setProgram(info.streams, info.pcrPid);
  }

  /** Follow the PAT's PMT PIDs, keeping the assembler and timer of those that stay. */
  private assignPmtSlots(pmtPids: number[]): void {
    const old = this.asms.splice(PMT_SLOT0);
    const oldSeen = Array.from(this.psiSeen.subarray(PMT_SLOT0, PMT_SLOT0 + old.length));
    for (const a of old) {
      this.psiSlot[a.pid] = -1;
      this.role[a.pid] = this.role[a.pid]! & ~(R_PSI | R_PMT);
    }
    for (const pid of pmtPids) {
      if (this.asms.length >= PMT_SLOT0 + MAX_PMT_PIDS) break;
      if (pid === NULL_PID || (this.role[pid]! & R_PSI) !== 0) continue;
      const k = this.asms.length;
      const i = old.findIndex((a) => a.pid === pid);
      this.asms.push(i >= 0 ? old[i]! : new SectionAssembler(pid));
      // A PMT PID new in the PAT has its timeout start now.
      this.psiSeen[k] = i >= 0 ? oldSeen[i]! : this.t;
      this.psiMissing[k] = 0;
      this.psiSlot[pid] = k;
      this.role[pid] = this.role[pid]! | R_PSI | R_PMT;
    }
  }

  /** The checked program's streams and PCR PID changed: choose the watched PIDs again. */
  private setProgram(streams: EsInfo[], pcrPid: number): void {
    const video = streams.find((s) => VIDEO_CODECS.has(s.codec))?.pid ?? -1;
    const audio = streams.find((s) => AUDIO_CODECS.has(s.codec))?.pid ?? -1;
    this.watch(0, video);
    this.watch(1, audio);
    const pcr = pcrPid === NULL_PID ? -1 : pcrPid;
    if (pcr === this.pcrPid) return;
    if (this.pcrPid >= 0) this.role[this.pcrPid] = this.role[this.pcrPid]! & ~R_PCR;
    this.pcrPid = pcr;
    if (pcr < 0) { this.timing.stop(); return; }
    this.role[pcr] = this.role[pcr]! | R_PCR;
    this.timing.start(this.t);
  }

  private watch(slot: number, pid: number): void {
    const old = this.watchPid[slot]!;
    if (pid === old) return;
    const bit = R_WATCH[slot]!;
    if (old >= 0) this.role[old] = this.role[old]! & ~bit;
    this.watchPid[slot] = pid;
    this.watchMissing[slot] = 0;
    this.timing.clearPts(slot);
    if (pid < 0) return;
    this.role[pid] = this.role[pid]! | bit;
    this.watchSeen[slot] = this.t; // its timeout starts now
  }
}

/** A PES starting in the packet at `off` whose header carries a PTS. */
function hasPts(buf: Buffer, off: number): boolean {
  const pl = payloadOffset(buf, off);
  if (pl < 0 || pl + 9 > off + TS_PACKET_SIZE) return false;
  if (buf[pl] !== 0 || buf[pl + 1] !== 0 || buf[pl + 2] !== 1) return false;
  // The MPEG-2 optional header ('10' marker bits), then PTS_DTS_flags.
  return (buf[pl + 6]! & 0xc0) === 0x80 && (buf[pl + 7]! & 0x80) !== 0;
}
