import type { Writable } from 'node:stream';
import type { EndReason } from '../hub/hub.js';
import { TS_PACKET_SIZE } from '../ts/packet.js';
import { END_REASONS, FRAME_HEADER, Frame, frameHeader, writeFrameHeader } from './protocol.js';

/** A worker whose pipe holds more than this is stuck: it is killed and replaced. */
const MAX_PIPE_BACKLOG = 64 * 1024 * 1024;
/** Packets collected per stream before a data frame is sent (at most 5 ms apart). */
const BATCH_PACKETS = 348;
const BATCH_MS = 5;
/** The largest data frame, bytes. */
const MAX_FRAME = FRAME_HEADER + BATCH_PACKETS * TS_PACKET_SIZE;
/** A stream's frames are assembled in slabs of this many largest frames. */
const SLAB_FRAMES = 4;

export interface WorkerPipe {
  id: number;
  pipe: Writable;
  /** Viewers per stream index, as reported by the worker. */
  viewers: number[];
  onStuck(): void;
}

/**
 * One stream's batch, assembled in place as the data frame the pipes get: packets are
 * copied once, from the aligner's buffer (valid only during its call) to behind the
 * frame header. Frames follow each other in a slab; a sent frame stays as it is until
 * the pipes have written it, so the next one starts behind it, in a new slab once the
 * largest frame no longer fits.
 */
interface Batch {
  slab: Buffer;
  /** Where the frame being assembled starts in the slab. */
  start: number;
  /** Packets in it. */
  used: number;
}

/**
 * The primary's side of the data pipes: every stream's packets and events go to every
 * worker, in order. Packets are batched per stream (up to 5 ms) so a 1316-byte datagram
 * upstream does not cost one pipe write per datagram per worker; each batch is one
 * buffer shared by all workers.
 */
export class WorkerPipes {
  private readonly workers = new Set<WorkerPipe>();
  private readonly batches: Batch[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(streamCount: number) {
    this.ensure(streamCount);
  }

  /** Room for `slots` streams (a reload adds slots). */
  ensure(slots: number): void {
    while (this.batches.length < slots) this.batches.push({ slab: Buffer.allocUnsafe(SLAB_FRAMES * MAX_FRAME), start: 0, used: 0 });
  }

  add(w: WorkerPipe): void { this.workers.add(w); }
  remove(w: WorkerPipe): void { this.workers.delete(w); }

  viewers(stream: number): number {
    let n = 0;
    for (const w of this.workers) n += w.viewers[stream] ?? 0;
    return n;
  }

  /** Upstream lost, clients kept (grace). */
  lost(stream: number): void { this.event(stream, Frame.Lost, 0); }
  /** A new upstream delivers: clients resume at its first keyframe. */
  resumed(stream: number): void { this.event(stream, Frame.Resumed, 0); }
  /** End every client of the stream. */
  end(stream: number, reason: EndReason): void { this.event(stream, Frame.End, END_REASONS.indexOf(reason)); }

  /** Availability of a stream (connected, offline), sent to all workers and to new ones. */
  state(stream: number, up: boolean, offline: boolean, only?: WorkerPipe): void {
    this.event(stream, Frame.State, (up ? 1 : 0) | (offline ? 2 : 0), only);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Aligned packets of a stream, for every worker (`buf` is only valid during the call). */
  data(stream: number, buf: Buffer, off: number, count: number): void {
    if (this.workers.size === 0) return;
    const b = this.batches[stream]!;
    while (count > 0) {
      const room = BATCH_PACKETS - b.used;
      const n = Math.min(room, count);
      buf.copy(b.slab, b.start + FRAME_HEADER + b.used * TS_PACKET_SIZE, off, off + n * TS_PACKET_SIZE);
      b.used += n;
      off += n * TS_PACKET_SIZE;
      count -= n;
      if (b.used === BATCH_PACKETS) this.flushStream(stream);
    }
    if (b.used > 0 && !this.timer) this.timer = setTimeout(() => { this.timer = undefined; this.flushAll(); }, BATCH_MS);
  }

  private flushAll(): void {
    for (let i = 0; i < this.batches.length; i++) this.flushStream(i);
  }

  private flushStream(stream: number): void {
    const b = this.batches[stream]!;
    if (b.used === 0) return;
    const len = b.used * TS_PACKET_SIZE;
    writeFrameHeader(b.slab, b.start, Frame.Data, 0, stream, len);
    const frame = b.slab.subarray(b.start, b.start + FRAME_HEADER + len);
    // The pipes may still hold this frame: the next one goes behind it, in a fresh slab
    // when the largest one would not fit (one allocation per SLAB_FRAMES full frames).
    b.start += FRAME_HEADER + len;
    b.used = 0;
    if (b.slab.length - b.start < MAX_FRAME) { b.slab = Buffer.allocUnsafe(SLAB_FRAMES * MAX_FRAME); b.start = 0; }
    for (const w of this.workers) this.write(w, frame);
  }

  private event(stream: number, type: Frame, arg: number, only?: WorkerPipe): void {
    this.flushStream(stream); // events never overtake the packets before them
    const frame = frameHeader(type, arg, stream, 0);
    if (only) this.write(only, frame);
    else for (const w of this.workers) this.write(w, frame);
  }

  private write(w: WorkerPipe, frame: Buffer): void {
    if (!w.pipe.writable) return;
    w.pipe.write(frame);
    if (w.pipe.writableLength > MAX_PIPE_BACKLOG) w.onStuck();
  }
}
