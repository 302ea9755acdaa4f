// MPEG-TS packet header fields (ISO/IEC 13818-1, 2.4.3.2 and 2.4.3.4).
// Small functions over (buffer, packet offset) so V8 inlines them on the hot path; none
// of them allocates or checks the sync byte (callers hand in aligned packets).

/** Bytes in a TS packet: the one definition of 188 in the code. */
export const TS_PACKET_SIZE = 188;
/**
 * Input packet sizes recognised, in the order they are tried: 188, 192 (M2TS/BDAV: a
 * 4-byte timestamp before each packet) and 204 (16 bytes of Reed-Solomon parity after).
 */
export const PACKET_SIZES = [TS_PACKET_SIZE, 192, 204] as const;
export const SYNC_BYTE = 0x47;
export const PAT_PID = 0x0000;
export const NULL_PID = 0x1fff;
/** Number of distinct PIDs: size of typed arrays indexed by PID. */
export const PID_COUNT = 8192;

/** The 13-bit PID. */
export function pid(buf: Uint8Array, off: number): number {
  return ((buf[off + 1]! & 0x1f) << 8) | buf[off + 2]!;
}

/** transport_error_indicator: the packet is known to be damaged upstream. */
export function tei(buf: Uint8Array, off: number): boolean {
  return (buf[off + 1]! & 0x80) !== 0;
}

/** payload_unit_start_indicator: a PES packet or a PSI section starts in this payload. */
export function pusi(buf: Uint8Array, off: number): boolean {
  return (buf[off + 1]! & 0x40) !== 0;
}

/** transport_scrambling_control (0 = clear). */
export function scrambling(buf: Uint8Array, off: number): number {
  return (buf[off + 3]! >> 6) & 0x03;
}

/** adaptation_field_control: bit 1 = adaptation field present, bit 0 = payload present. */
export function afc(buf: Uint8Array, off: number): number {
  return (buf[off + 3]! >> 4) & 0x03;
}

/** continuity_counter (4 bits). */
export function cc(buf: Uint8Array, off: number): number {
  return buf[off + 3]! & 0x0f;
}

export function hasAdaptation(buf: Uint8Array, off: number): boolean {
  return (buf[off + 3]! & 0x20) !== 0;
}

export function hasPayload(buf: Uint8Array, off: number): boolean {
  return (buf[off + 3]! & 0x10) !== 0;
}

/** adaptation_field_length, or 0 when there is no adaptation field. */
export function adaptationLength(buf: Uint8Array, off: number): number {
  return (buf[off + 3]! & 0x20) !== 0 ? buf[off + 4]! : 0;
}

/** The adaptation field flags byte, or 0 when the field is absent or empty. */
function afFlags(buf: Uint8Array, off: number): number {
  return (buf[off + 3]! & 0x20) !== 0 && buf[off + 4]! > 0 ? buf[off + 5]! : 0;
}

/** discontinuity_indicator: CC (and, on the PCR PID, the time base) may jump here. */
export function discontinuity(buf: Uint8Array, off: number): boolean {
  return (afFlags(buf, off) & 0x80) !== 0;
}

/** random_access_indicator: the next PES on this PID starts at a random access point. */
export function randomAccess(buf: Uint8Array, off: number): boolean {
  return (afFlags(buf, off) & 0x40) !== 0;
}

/** PCR_flag (the value itself is read by readPcr in pcr.ts). */
export function hasPcr(buf: Uint8Array, off: number): boolean {
  return (afFlags(buf, off) & 0x10) !== 0 && buf[off + 4]! >= 7;
}

/**
 * Absolute offset in `buf` of the first payload byte of the packet at `off`, or -1 when
 * the packet carries no payload or its adaptation field length is impossible.
 * The payload ends at off + 188.
 */
export function payloadOffset(buf: Uint8Array, off: number): number {
  const b3 = buf[off + 3]!;
  if ((b3 & 0x10) === 0) return -1;
  if ((b3 & 0x20) === 0) return off + 4;
  const len = buf[off + 4]!;
  // With a payload, the adaptation field may use at most 182 bytes (183 leaves none).
  return len > 182 ? -1 : off + 5 + len;
}

/**
 * Set discontinuity_indicator on the packet at `offset`, in place. Rule: the flag lives
 * in the adaptation field's flags byte, so it can only be set when that byte exists
 * (adaptation_field_length >= 1). A packet without an adaptation field, or with an empty
 * one, cannot be grown in place without shifting its payload, which is only safe when
 * the payload is known to end in stuffing: pass `psi = true` for a PSI packet (PAT, PMT:
 * sections followed by 0xFF stuffing) and the payload is shifted right over its trailing
 * stuffing. PES payload has no stuffing to give up, so for it (the default) the answer is
 * false. Returns whether the flag is now set; on false the packet is untouched.
 */
export function setDiscontinuity(buf: Uint8Array, offset: number, psi = false): boolean {
  const b3 = buf[offset + 3]!;
  const hasAf = (b3 & 0x20) !== 0;
  if (hasAf && buf[offset + 4]! > 0) {
    buf[offset + 5] = buf[offset + 5]! | 0x80;
    return true;
  }
  if (!psi || (b3 & 0x10) === 0 || (buf[offset + 1]! & 0x40) === 0) return false;
  // Growing: no field needs 2 bytes (length + flags), an empty field 1 (flags).
  const grow = hasAf ? 1 : 2;
  const start = hasAf ? offset + 5 : offset + 4;
  const end = offset + TS_PACKET_SIZE;
  if (psiStuffingStart(buf, start, end) > end - grow) return false;
  buf.copyWithin(start + grow, start, end - grow);
  buf[offset + 3] = b3 | 0x20;
  buf[offset + 4] = 1;
  buf[offset + 5] = 0x80;
  return true;
}

/**
 * Where the 0xFF stuffing begins in a PSI payload [start, end) that starts with a
 * pointer_field; `end + 1` when a section runs past the packet (no stuffing to take).
 */
function psiStuffingStart(buf: Uint8Array, start: number, end: number): number {
  let pos = start + 1 + buf[start]!;
  while (pos < end && buf[pos] !== 0xff) {
    if (pos + 3 > end) return end + 1;
    pos += 3 + (((buf[pos + 1]! & 0x0f) << 8) | buf[pos + 2]!);
  }
  return pos > end ? end + 1 : pos;
}
