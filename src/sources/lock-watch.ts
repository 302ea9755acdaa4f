import { RestreamerError } from '../errors.js';
import type { Clock, TimerHandle } from '../hub/clock.js';

// Whether a connection's bytes turn into aligned packets, for the supervisor
// (supervisor.ts): one watch per transport connection, from its connect to its end.
//
// - Garbage fails fast. An MPEG-TS stream locks within a few packets (the aligner needs
//   five sync bytes a packet apart, about 1 KB), so a connection whose first 64 KiB
//   (LOCK_BYTES) were discarded without a single aligned packet is certainly not one: it
//   fails at the chunk that proves it, however fast or slow the bytes came. Checked once
//   per chunk, and only until the first packet.
// - Time bounds, polled coarsely (no timer work per chunk): with `readtimeout`, no aligned
//   packet for that long (before or after the first) fails, as bytes without a packet
//   (UPSTREAM_NO_SYNC) or as silence (UPSTREAM_READ_TIMEOUT); with `readtimeout` 0, bytes
//   without a packet for LOCK_TIMEOUT_MS fail (garbage trickling in below 64 KiB) and
//   silence is waited out, as the original did.

/** Input discarded without one aligned packet that proves a connection is not MPEG-TS, bytes. */
export const LOCK_BYTES = 64 * 1024;
/** Lock time when `readtimeout` is 0: bytes without an aligned packet for this long fail, ms. */
const LOCK_TIMEOUT_MS = 5000;

export interface LockWatchOptions {
  clock: Clock;
  /** `readtimeout`, s; 0 = the lock time only. */
  readTimeoutS: number;
  /** Aligned packets delivered so far (monotonic); without it, the first byte counts as one. */
  packets: (() => number) | undefined;
  /** Bytes discarded by the aligner so far (monotonic); without it, every byte before a packet counts. */
  discarded: (() => number) | undefined;
  /** Bytes read so far (monotonic). */
  bytes: () => number;
  /** The connection failed: close it with this reason. Called once per watch. */
  fail: (reason: RestreamerError) => void;
}

export class LockWatch {
  private timer: TimerHandle | undefined;
  private packetsAtStart = 0;
  private bytesAtStart = 0;
  private discardedAtStart = 0;
  private lastPackets = 0;
  private lastBytes = 0;
  private lastProgressAt = 0;
  private bytesSincePacket = false;
  private failed = false;

  constructor(private readonly o: LockWatchOptions) {}

  /** A transport connected: watch its bytes from here on (replaces any earlier watch). */
  start(): void {
    this.stop();
    const o = this.o;
    this.failed = false;
    this.packetsAtStart = this.lastPackets = this.packetCount();
    this.bytesAtStart = this.lastBytes = o.bytes();
    this.discardedAtStart = o.discarded?.() ?? 0;
    this.lastProgressAt = o.clock.monotonic();
    this.bytesSincePacket = false;
    const ms = this.limitMs;
    this.timer = o.clock.setInterval(() => { this.poll(ms); }, Math.min(1000, Math.max(50, ms / 4)));
  }

  /**
   * After a chunk of a connection that has not delivered a packet yet: fails it once
   * LOCK_BYTES were thrown away without one. True when it failed.
   */
  chunk(): boolean {
    if (this.timer === undefined || this.failed || this.packetCount() !== this.packetsAtStart) return false;
    const o = this.o;
    const thrownAway = o.discarded ? o.discarded() - this.discardedAtStart : o.bytes() - this.bytesAtStart;
    if (thrownAway <= LOCK_BYTES) return false;
    this.fail(new RestreamerError('UPSTREAM_NO_SYNC', `${thrownAway} bytes without an aligned MPEG-TS packet (no lock within ${LOCK_BYTES / 1024} KiB)`));
    return true;
  }

  /** The connection ended (idempotent). */
  stop(): void {
    if (this.timer !== undefined) this.o.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The time bound in force: `readtimeout`, else the lock time. */
  private get limitMs(): number {
    return this.o.readTimeoutS > 0 ? this.o.readTimeoutS * 1000 : LOCK_TIMEOUT_MS;
  }

  private packetCount(): number {
    return this.o.packets?.() ?? this.o.bytes();
  }

  private poll(ms: number): void {
    if (this.failed) return;
    const t = this.o.clock.monotonic();
    const packets = this.packetCount();
    const bytes = this.o.bytes();
    if (packets !== this.lastPackets) {
      this.lastPackets = packets;
      this.lastBytes = bytes;
      this.lastProgressAt = t;
      this.bytesSincePacket = false;
      return;
    }
    if (bytes !== this.lastBytes) {
      this.lastBytes = bytes;
      this.bytesSincePacket = true;
    }
    if (t - this.lastProgressAt < ms) return;
    const s = ms / 1000;
    if (this.bytesSincePacket) this.fail(new RestreamerError('UPSTREAM_NO_SYNC', `data but no aligned MPEG-TS packet for ${s} s`));
    else if (this.o.readTimeoutS > 0) this.fail(new RestreamerError('UPSTREAM_READ_TIMEOUT', `no data for ${s} s`));
    // readtimeout 0: a silent upstream is waited for, as in the original
  }

  private fail(reason: RestreamerError): void {
    this.failed = true;
    this.stop();
    this.o.fail(reason);
  }
}
