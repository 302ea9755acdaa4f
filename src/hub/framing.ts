import type { PacketRing } from './ring.js';
import { TS_PACKET_SIZE } from '../ts/packet.js';

/**
 * How a client's bytes are wrapped on the wire. `chunked`: HTTP/1.1 chunked transfer
 * coding, added by the hub in the same buffer as the data so each batch is one write
 * (not Node's three-part writev per client). `raw`: bytes as they are (HTTP/1.0, or a
 * sink that frames by itself).
 */
export type Framing = 'raw' | 'chunked';

const CRLF = 0x0d0a;

function chunkHeader(len: number): string {
  return `${len.toString(16)}\r\n`;
}

/** Allocate a buffer for `len` data bytes in `framing`; returns it and where data goes. */
function alloc(framing: Framing, len: number): { out: Buffer; at: number } {
  if (framing === 'raw') return { out: Buffer.allocUnsafe(len), at: 0 };
  const head = chunkHeader(len);
  const out = Buffer.allocUnsafe(head.length + len + 2);
  out.write(head, 0, 'latin1');
  out.writeUInt16BE(CRLF, head.length + len);
  return { out, at: head.length };
}

/** Packets [from, to) of the ring, framed, in one fresh buffer (one copy). */
export function framedFromRing(framing: Framing, ring: PacketRing, from: number, to: number): Buffer {
  const { out, at } = alloc(framing, (to - from) * TS_PACKET_SIZE);
  ring.copyInto(from, to, out, at);
  return out;
}

/** `data`, framed (a copy; for small writes such as PAT/PMT prefixes and keep-alives). */
export function framed(framing: Framing, data: Buffer): Buffer {
  if (framing === 'raw') return data;
  const { out, at } = alloc(framing, data.length);
  data.copy(out, at);
  return out;
}
