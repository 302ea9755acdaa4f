import { PCR_HZ, packetPid, pcrForward, readPcr } from '../ts/pcr.js';
import { TS_PACKET_SIZE } from '../ts/packet.js';
import type { DataSink } from './source.js';

// Real-time pacing of a transport stream read from a file: data is read ahead, and a
// coarse tick (~15 ms) releases whatever has become due, as one slice per buffered
// chunk. "Due" comes from the PCR of one PID: the packet carrying a PCR is released when
// wall-clock time since the previous PCR has caught up with the PCR difference; packets
// in between are spread at the byte rate of the previous PCR interval. Using deltas (not
// absolute PCR values) makes the wrap at 2^33 simple, and a time base jump inside a file
// harmless: a gap that is negative or implausibly large is replaced by the last normal
// gap. A looped file reaches the pacer with its PCR already continued across the loop
// point (the loop clock, ../ts/loopclock.ts), so the whole playout is paced from one clock.
//
// Without a PCR in the first `probeBytes`, the stream is paced at `fallbackBitrate`.
// Slices are views (subarray) of the chunks pushed in: nothing is copied.

/** A PCR gap above this is a discontinuity (the standard allows at most 100 ms). */
const MAX_PCR_GAP = PCR_HZ;
/** Falling further behind than this (a stalled event loop, slow disk) resets the clock instead of bursting. */
const MAX_LAG_MS = 1000;

export interface PacerOptions {
  /** Receives paced slices. */
  emit: DataSink;
  /** Called (from a tick) when the pacer wants more input, see wantsMore(). */
  onLow: () => void;
  /** Bits per second used when the stream has no PCR. */
  fallbackBitrate: number;
  tickMs?: number;
  /** Input scanned for a PCR before falling back to the bitrate. */
  probeBytes?: number;
  /** Read-ahead target in bytes. */
  highWater?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

export class Pacer {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  /** In queue[0]: bytes before emitPos are sent; scanPos is the next packet to time. */
  private emitPos = 0;
  private scanPos = 0;
  private headAligned = false;
  /** Due time of the packet at scanPos when it was already computed (NaN: not yet). */
  private blockedDue = NaN;
  private mode: 'probe' | 'pcr' | 'bitrate' = 'probe';
  private probed = 0;
  private pcrPid = -1;
  private lastPcr = -1;
  private lastDue = 0;
  private typicalGap = PCR_HZ / 25;
  /** Byte position (in `passed`) of the last PCR packet, and the byte rate and gap before it. */
  private lastPcrAt = 0;
  private bytesPerMs = Infinity;
  private lastGapMs = 0;
  private bitStart = 0;
  private passed = 0;
  private timer: NodeJS.Timeout | undefined;
  private ending: (() => void) | undefined;
  private closed = false;
  private readonly tickMs: number;
  private readonly probeBytes: number;
  private readonly highWater: number;
  private readonly now: () => number;
  /** Bytes from one sync byte to the next: 188, or 192/204 for M2TS and RS-coded files. */
  private stride = TS_PACKET_SIZE;

  constructor(private readonly o: PacerOptions) {
    this.tickMs = o.tickMs ?? 15;
    this.probeBytes = o.probeBytes ?? 1 << 20;
    this.highWater = o.highWater ?? 256 * 1024;
    this.now = o.now ?? (() => performance.now());
  }

  get queuedBytes(): number { return this.queued; }
  /** Set the packet size (before the first push) when the file's is not 188. */
  set packetSize(n: number) { this.stride = n; }
  /** Which clock paces the stream: 'probe' until decided. */
  get pacing(): 'probe' | 'pcr' | 'bitrate' { return this.mode; }

  /** True while the reader should keep feeding (probing needs up to probeBytes). */
  wantsMore(): boolean {
    return !this.closed && !this.ending && (this.mode === 'probe' || this.queued < this.highWater);
  }

  push(chunk: Buffer): void {
    if (this.closed || chunk.length === 0) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.mode === 'probe') this.probe(chunk);
    this.arm();
  }

  /** No more input: release the rest on time, then call onDone once. */
  end(onDone: () => void): void {
    if (this.closed) return;
    this.ending = onDone;
    if (this.mode === 'probe') this.startBitrate();
    this.arm();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.queued = 0;
    this.ending = undefined;
  }

  private probe(chunk: Buffer): void {
    for (let p = firstSync(chunk, 0, this.stride); p + TS_PACKET_SIZE <= chunk.length; p += this.stride) {
      if (readPcr(chunk, p) >= 0) {
        this.mode = 'pcr';
        this.pcrPid = packetPid(chunk, p);
        return;
      }
    }
    this.probed += chunk.length;
    if (this.probed >= this.probeBytes) this.startBitrate();
  }

  private startBitrate(): void {
    this.mode = 'bitrate';
    this.bitStart = this.now();
    this.passed = 0;
  }

  private arm(): void {
    if (!this.timer && !this.closed) this.timer = setInterval(this.tick, this.tickMs);
  }

  private readonly tick = (): void => {
    if (this.closed) return;
    if (this.mode !== 'probe') this.release(this.now());
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- emit() may have closed us
    if (this.closed) return;
    if (this.queue.length === 0) {
      if (this.ending) {
        const done = this.ending;
        this.close();
        done();
        return;
      }
      clearInterval(this.timer);
      this.timer = undefined;
    }
    if (this.wantsMore()) this.o.onLow();
  };

  private release(now: number): void {
    while (this.queue.length > 0) {
      const buf = this.queue[0]!;
      if (!this.headAligned) {
        this.scanPos = firstSync(buf, this.emitPos, this.stride);
        this.headAligned = true;
      }
      let blocked = false;
      while (this.scanPos + TS_PACKET_SIZE <= buf.length) {
        let due = this.blockedDue;
        if (due !== due) due = this.dueOf(buf, this.scanPos, now); // NaN check
        if (due > now) {
          this.blockedDue = due;
          blocked = true;
          break;
        }
        this.blockedDue = NaN;
        this.scanPos += this.stride;
        this.passed += this.stride;
        if (buf[this.scanPos] !== 0x47 && this.scanPos < buf.length) {
          const next = firstSync(buf, this.scanPos, this.stride);
          this.passed += next - this.scanPos;
          this.scanPos = next;
        }
      }
      if (blocked) {
        if (this.scanPos > this.emitPos) {
          const slice = buf.subarray(this.emitPos, this.scanPos);
          this.emitPos = this.scanPos;
          this.o.emit(slice);
        }
        return;
      }
      // Chunk done; a partial packet at its end goes out with it.
      if (buf.length > this.scanPos) this.passed += buf.length - this.scanPos;
      const slice = this.emitPos === 0 ? buf : buf.subarray(this.emitPos);
      this.queue.shift();
      this.queued -= buf.length;
      this.emitPos = 0;
      this.scanPos = 0;
      this.headAligned = false;
      this.o.emit(slice);
      if (this.closed) return;
    }
  }

  /** When the packet at `p` may go out (ms). Advances the PCR clock: call once per packet. */
  private dueOf(buf: Buffer, p: number, now: number): number {
    if (this.mode === 'bitrate') {
      let due = this.bitStart + (this.passed * 8000) / this.o.fallbackBitrate;
      if (now - due > MAX_LAG_MS) {
        this.bitStart += now - due;
        due = now;
      }
      return due;
    }
    const pcr = packetPid(buf, p) === this.pcrPid ? readPcr(buf, p) : -1;
    if (pcr < 0) {
      if (this.lastPcr < 0) return -Infinity;
      // Between PCRs: spread packets at the byte rate of the previous PCR interval, so
      // output flows every tick rather than in one burst per PCR; never later than one
      // interval after the last PCR (the next PCR then sets the clock right again).
      const ms = (this.passed - this.lastPcrAt) / this.bytesPerMs;
      return this.lastDue + (ms < this.lastGapMs ? ms : this.lastGapMs);
    }
    if (this.lastPcr < 0) {
      this.lastPcr = pcr;
      this.lastPcrAt = this.passed;
      this.lastDue = now;
      return now;
    }
    let gap = pcrForward(this.lastPcr, pcr);
    if (gap > MAX_PCR_GAP) gap = this.typicalGap; // wrap glitch, loop restart, splice
    else if (gap > 0) this.typicalGap = gap;
    const gapMs = (gap * 1000) / PCR_HZ;
    if (gapMs > 0) this.bytesPerMs = (this.passed - this.lastPcrAt) / gapMs;
    this.lastGapMs = gapMs;
    this.lastPcr = pcr;
    this.lastPcrAt = this.passed;
    this.lastDue += gapMs;
    if (now - this.lastDue > MAX_LAG_MS) this.lastDue = now;
    return this.lastDue;
  }
}

/** First offset >= from that looks like a packet start (0x47, and 0x47 one packet on when there is room). */
function firstSync(buf: Buffer, from: number, stride: number): number {
  const len = buf.length;
  for (let p = from; p + TS_PACKET_SIZE <= len; p++) {
    if (buf[p] === 0x47 && (p + stride >= len || buf[p + stride] === 0x47)) return p;
  }
  return len;
}
