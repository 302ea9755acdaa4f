// Multi-process mode: what the primary (upstreams) and the workers (HTTP clients) say to
// each other.
//
// Data and stream events travel on one pipe per worker (fd 4), as frames, so an event
// such as "upstream resumed" can never overtake the packets before it:
//   [u8 type][u8 arg][u16 stream index][u32 payload length][payload]
// Requests and replies (admission, viewers, counters), the heartbeat (ping/pong) and the
// client connections the primary accepts and hands over (`conn`, with the socket as the
// message's handle, acknowledged by `conn-ack`) use Node's IPC channel.

import type { EndReason } from '../hub/hub.js';
import type { Config } from '../config/schema.js';

/** Environment handed to workers (they get the primary's argv, so the same config path). */
export const ENV_API_SOCKET = 'RESTREAMER_API_SOCKET';
/** The log settings of the workers (they never read the configuration file). */
export const ENV_LOG_FILE = 'RESTREAMER_LOG_FILE';
export const ENV_LOG_FORMAT = 'RESTREAMER_LOG_FORMAT';
/** The run's secret for the internal API socket (workers read it once and drop it). */
export const ENV_API_SECRET = 'RESTREAMER_API_SECRET';

export const FRAME_HEADER = 8;
export const DATA_FD = 4;

export const enum Frame {
  Data = 1,
  /** Upstream lost, clients kept (grace). */
  Lost = 2,
  /** A new upstream delivers: resume clients at its first keyframe. */
  Resumed = 3,
  /** End every client; arg = EndReason code. */
  End = 4,
  /** Availability; arg bit 0 = upstream connected, bit 1 = offline (control API). */
  State = 5,
}

/**
 * Every EndReason, by its code on the pipe (an End frame's arg is the index here). Written
 * as a record the compiler checks against EndReason, so a reason added there cannot be
 * missing here (it would cross the pipe as another one).
 */
export const END_REASONS = Object.keys({
  upstream_lost: true, offline: true, shutdown: true, closed: true, too_slow: true, kicked: true,
} satisfies Record<EndReason, true>) as readonly EndReason[];

export function frameHeader(type: Frame, arg: number, stream: number, length: number): Buffer {
  return writeFrameHeader(Buffer.allocUnsafe(FRAME_HEADER), 0, type, arg, stream, length);
}

/** A frame header written into `buf` at `at` (a data frame is assembled behind its header). */
export function writeFrameHeader(buf: Buffer, at: number, type: Frame, arg: number, stream: number, length: number): Buffer {
  buf[at] = type;
  buf[at + 1] = arg;
  buf.writeUInt16BE(stream, at + 2);
  buf.writeUInt32BE(length, at + 4);
  return buf;
}

/** Splits the pipe's byte stream back into frames (a frame may span reads). */
export class FrameReader {
  private pending: Buffer | undefined;
  constructor(private readonly onFrame: (type: Frame, arg: number, stream: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    let pos = 0;
    while (buf.length - pos >= FRAME_HEADER) {
      const len = buf.readUInt32BE(pos + 4);
      if (buf.length - pos - FRAME_HEADER < len) break;
      const start = pos + FRAME_HEADER;
      // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- a byte the other side wrote as a Frame; onFrame ignores values it does not know
      this.onFrame(buf[pos] as Frame, buf[pos + 1]!, buf.readUInt16BE(pos + 2), buf.subarray(start, start + len));
      pos = start + len;
    }
    if (pos < buf.length) this.pending = Buffer.from(buf.subarray(pos));
    buf = chunk; // release
  }
}

/** Per-stream counters a worker reports to the primary. */
export interface WorkerStreamCounters {
  packetsSent: number;
  packetsDropped: number;
  clients: number;
  /** Streaming time of finished and running clients, ms. */
  clientMs: number;
  /** Stream responses by status code. */
  responses: [number, number][];
}

export type WorkerMessage =
  /** Listening for messages: send the configuration. */
  | { t: 'hello' }
  /** Running configuration `generation` (the first one, or a reload): send every stream's state. */
  | { t: 'configured'; generation: number }
  /** Set up: ready for connections. */
  | { t: 'ready' }
  | { t: 'pong'; seq: number }
  /** Connection `id` taken (ok: the worker serves it) or refused (the primary hands it on). */
  | { t: 'conn-ack'; id: number; ok: boolean }
  | { t: 'acquire'; id: number }
  | { t: 'release' }
  | { t: 'viewer'; stream: number; delta: 1 | -1 }
  | { t: 'demand'; id: number; stream: number }
  | { t: 'counters'; id?: number; streams: WorkerStreamCounters[] }
  /** Wrong credentials from `address` (the socket's, never a header): the primary counts them for the instance. */
  | { t: 'authfail'; address: string };

export type PrimaryMessage =
  | { t: 'acquired'; id: number; ok: boolean }
  | { t: 'demanded'; id: number; ok: boolean }
  | { t: 'collect'; id: number }
  /** Brute-force protection: answer the addresses counted as `key` (auth/guard.ts addressKey) 429 for `ms`. */
  | { t: 'authblock'; key: string; ms: number }
  | { t: 'ping'; seq: number }
  /** A client connection; the socket is the message's handle; `tls`: accepted on the HTTPS address, raw TCP, not yet handshaken. */
  | { t: 'conn'; id: number; tls?: boolean }
  | { t: 'reopen' }
  | { t: 'shutdown' }
  /**
   * The configuration to run (at start, and on every reload): the primary's, never the
   * file as it may be now. `slots[i]` is the slot of the i-th stream resource.
   */
  | { t: 'config'; cfg: Config; slots: number[]; generation: number; tls?: TlsWire };

/**
 * The HTTPS pair as the primary read it (workers never read the files: a renewal reaches
 * every worker at once, with the reload), and the run's session-ticket keys, the same in
 * every worker, so a session resumes whichever worker the next connection reaches.
 */
export interface TlsWire {
  /** PEM texts (JSON carries text, not Buffers). */
  cert: string;
  key: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  /** 48 bytes, base64. */
  ticketKeys: string;
}
