// The timestamp packets the paced source embeds and the bench clients read back.
// Source and clients run on the same machine, so CLOCK_MONOTONIC (process.hrtime) is
// one clock for all of them, also across network namespaces.

export const TS = 188;
/** Private PID of the timestamp packets (not in any PMT; a proxy forwards it untouched). */
export const STAMP_PID = 0x1ff0;
/** PMT PID forced on ffmpeg (-mpegts_pmt_start_pid) so clients know which PIDs are PSI. */
export const PMT_PID = 0x1000;
/** "RSTS": marks a payload as ours. */
export const STAMP_MAGIC = 0x52535453;

/** Monotonic clock in microseconds (shared by every process on the machine). */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Write a timestamp packet at `o`: payload-only, PID STAMP_PID, continuity counter `cc`,
 * payload = magic (u32 BE), sequence (u32 BE), send time in µs (f64 LE), then 0xff.
 */
export function writeStamp(buf: Buffer, o: number, cc: number, seq: number, us: number): void {
  buf[o] = 0x47;
  buf[o + 1] = (STAMP_PID >> 8) & 0x1f;
  buf[o + 2] = STAMP_PID & 0xff;
  buf[o + 3] = 0x10 | (cc & 15);
  buf.writeUInt32BE(STAMP_MAGIC, o + 4);
  buf.writeUInt32BE(seq >>> 0, o + 8);
  buf.writeDoubleLE(us, o + 12);
  buf.fill(0xff, o + 20, o + TS);
}
