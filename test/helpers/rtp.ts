// Test-only RTP datagram builder (RFC 3550 fixed header plus optional parts).

export interface RtpOptions {
  seq: number;
  payload: Buffer;
  ssrc?: number;
  timestamp?: number;
  pt?: number;
  marker?: boolean;
  version?: number;
  /** Number of CSRC entries (0..15). */
  csrc?: number;
  /** Header extension with this many 32-bit words (undefined = no extension). */
  ext?: number;
  /** Padding bytes (0 = no padding flag). */
  pad?: number;
}

export function rtpPacket(o: RtpOptions): Buffer {
  const csrc = o.csrc ?? 0;
  const extLen = o.ext === undefined ? 0 : 4 + 4 * o.ext;
  const pad = o.pad ?? 0;
  const head = 12 + 4 * csrc + extLen;
  const p = Buffer.alloc(head + o.payload.length + pad, 0xaa);
  p[0] = ((o.version ?? 2) << 6) | (pad ? 0x20 : 0) | (o.ext !== undefined ? 0x10 : 0) | csrc;
  p[1] = (o.marker ? 0x80 : 0) | ((o.pt ?? 33) & 0x7f);
  p.writeUInt16BE(o.seq & 0xffff, 2);
  p.writeUInt32BE((o.timestamp ?? 0) >>> 0, 4);
  p.writeUInt32BE((o.ssrc ?? 0x12345678) >>> 0, 8);
  if (o.ext !== undefined) {
    const x = 12 + 4 * csrc;
    p.writeUInt16BE(0xbede, x);
    p.writeUInt16BE(o.ext, x + 2);
  }
  o.payload.copy(p, head);
  if (pad) p[p.length - 1] = pad;
  return p;
}
