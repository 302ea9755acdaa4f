import type { StreamAnalyzer } from '../ts/analyzer.js';
import type { PacketRing } from './ring.js';
import { framed, framedFromRing, type Framing } from './framing.js';
import { startPrefix, type CcView } from './prefix.js';

/** Catch-up copies kept for sharing (each at most maxWriteBytes). */
const CHUNK_CACHE_ENTRIES = 32;

/**
 * What a client joining (or resuming) at a keyframe gets first: the PAT/PMT prefix and the
 * catch-up copies of the ring from there. Both are shared by the clients joining together,
 * so a mass zap builds each once, not per client. Buffers handed out are never modified.
 */
export class PrefixCache {
  private entry: {
    rap: number; disc: boolean; pat: Buffer | undefined; pmt: Buffer | undefined; head: number; final: boolean;
    buf: Buffer; chunked: Buffer | undefined;
  } | undefined;

  constructor(private readonly analyzer: StreamAnalyzer, private readonly ring: PacketRing, private readonly continuity: CcView) {}

  /**
   * The PAT/PMT prefix (plus discontinuity markers after a switch) for a client starting at
   * keyframe `rap`, with continuity counters that run into the ring from there. Clients
   * starting at the same keyframe get the very same buffer. It is rebuilt when the PAT or
   * PMT changes, and, until the next PAT and PMT packets after `rap` are in the ring (which
   * fixes the counters for good), whenever new data has arrived. Undefined while no PAT/PMT
   * is known.
   */
  at(rap: number, withDiscontinuity: boolean): Buffer | undefined {
    const a = this.analyzer;
    const k = this.entry;
    if (k?.rap === rap && k.disc === withDiscontinuity && k.pat === a.patPackets && k.pmt === a.pmtPackets
      && (k.final || k.head === this.ring.head)) return k.buf;
    const built = startPrefix(a, this.ring, rap, this.continuity, withDiscontinuity);
    if (!built) return undefined;
    const { buf, final } = built;
    this.entry = { rap, disc: withDiscontinuity, pat: a.patPackets, pmt: a.pmtPackets, head: this.ring.head, final, buf, chunked: undefined };
    return buf;
  }

  /** A prefix framed for the wire; the cached prefix's chunked copy is made once. */
  framed(framing: Framing, p: Buffer): Buffer {
    if (framing === 'raw') return p;
    const k = this.entry;
    if (k?.buf === p) return (k.chunked ??= framed('chunked', p));
    return framed('chunked', p);
  }

  /** The upstream session ended: its tables no longer describe what comes next. */
  reset(): void {
    this.entry = undefined;
  }
}

/**
 * Framed copies of ring ranges for clients catching up. Clients that joined together
 * (keyframe start) walk the same ranges from the same keyframe, so the copies are kept
 * briefly and shared: a thousand clients zapping in at once cost one copy of the GOP,
 * not a thousand.
 */
export class CatchUpCache {
  private readonly raw = new Map<number, { end: number; buf: Buffer }>();
  private readonly chunked = new Map<number, { end: number; buf: Buffer }>();

  constructor(private readonly ring: PacketRing) {}

  /**
   * A framed copy of [from, end). When the cache is full, entries that left the ring or
   * end at or before `stale` (no client can still need them) are dropped first.
   */
  chunk(framing: Framing, from: number, end: number, stale: number): Buffer {
    const cache = framing === 'raw' ? this.raw : this.chunked;
    const hit = cache.get(from);
    if (hit?.end === end) return hit.buf;
    const buf = framedFromRing(framing, this.ring, from, end);
    if (cache.size >= CHUNK_CACHE_ENTRIES) {
      const tail = this.ring.tail;
      for (const [k, v] of cache) if (k < tail || v.end <= stale) cache.delete(k);
      if (cache.size >= CHUNK_CACHE_ENTRIES) cache.clear();
    }
    cache.set(from, { end, buf });
    return buf;
  }
}
