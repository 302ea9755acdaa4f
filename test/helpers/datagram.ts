// Test helpers for datagram upstreams: an RTP datagram builder and a SourceContext whose log is captured.
import dgram from 'node:dgram';
import { createLogger } from '../../src/log/logger.js';
import { DEFAULT_MRU, DEFAULT_RTP_REORDER } from '../../src/config/schema.js';
import type { SourceContext, SourceOptions } from '../../src/sources/source.js';

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

export interface LogLine { evt?: string; msg?: string; level?: number; [k: string]: unknown }

/** A SourceContext as the supervisor builds it (the schema's defaults for options not given), with every log line kept in `lines`. */
export function testContext(url: string, options: Partial<SourceOptions> = {}, inputBufferPackets = 1000): { ctx: SourceContext; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const { logger } = createLogger({ level: 'debug', stream: { write(s: string) { lines.push(JSON.parse(s) as LogLine); } } });
  const ctx: SourceContext = {
    url: new URL(url),
    stream: '/test.ts',
    log: logger.child({ stream: '/test.ts', url }),
    inputBufferPackets,
    connectTimeoutMs: 0,
    options: { mru: options.mru ?? DEFAULT_MRU, clientInterface: options.clientInterface, rtpReorder: options.rtpReorder ?? DEFAULT_RTP_REORDER },
  };
  return { ctx, lines };
}

/** A UDP port that was free a moment ago on 127.0.0.1 (datagram upstreams need a fixed port in their URL). */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', res));
  const { port } = s.address();
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}
