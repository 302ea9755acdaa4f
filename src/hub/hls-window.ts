// The live HLS media playlist of one segmenter (RFC 8216): the sliding window of the
// newest segments, the segments that have left it but may still be fetched, and the
// playlist text, rendered once per new segment (never per request).

/** One finished segment: immutable, served as it is to every request. */
export interface HlsSegment {
  /** Media sequence number. */
  readonly seq: number;
  /** File name under the playlist's path: `<epoch>-<seq>.ts`. */
  readonly name: string;
  /** PAT, PMT, then the packets: one buffer, written once per request. */
  readonly data: Buffer;
  /** Quoted; unique per epoch and sequence number, which never name other content. */
  readonly etag: string;
  readonly durationMs: number;
  /** Wall clock of its first packet's arrival, ms since the epoch (#EXT-X-PROGRAM-DATE-TIME). */
  readonly startedAt: number;
  /** First segment after an upstream switch or loss (#EXT-X-DISCONTINUITY). */
  readonly discontinuity: boolean;
}

/** The rendered playlist and its validator. */
export interface HlsPlaylist {
  readonly body: Buffer;
  readonly etag: string;
}

/** A segment that left the window, and until when it may still be fetched (ms). */
interface Retired { readonly seg: HlsSegment; readonly until: number }

export class HlsWindow {
  private readonly live: HlsSegment[] = [];
  private retired: Retired[] = [];
  /** Discontinuity tags that slid out of the window (#EXT-X-DISCONTINUITY-SEQUENCE). */
  private discontinuitySeq = 0;
  private rendered: HlsPlaylist | undefined;
  /** #EXT-X-TARGETDURATION, seconds; 0 until the first segment fixes it for good. */
  private target = 0;
  /** When the newest segment was listed, ms (-1: none yet). */
  private listedAt = -1;

  /**
   * `size`: segments listed (hlswindow); `urlPrefix`: what a segment's name is prefixed
   * with in the playlist, relative to the playlist's URL (the playlist's own file name
   * and a slash: segments live under its path).
   */
  constructor(private readonly size: number, private readonly urlPrefix: string, private readonly epoch: string) {}

  get targetS(): number { return this.target; }
  /** When the newest segment was listed, ms; -1 before the first. */
  get lastListedAt(): number { return this.listedAt; }
  /** Segments listed now. */
  get length(): number { return this.live.length; }

  /** Fix the target duration, seconds: once, before the first segment (RFC 8216 4.3.3.1). */
  fixTarget(s: number): void {
    if (this.target === 0) this.target = s;
  }

  /**
   * List a new segment (at `now`, ms). The one it pushes out of the window stays
   * fetchable for its duration plus the playlist's (RFC 8216 6.2.2), then is dropped.
   */
  add(seg: HlsSegment, now: number): void {
    this.live.push(seg);
    this.listedAt = now;
    if (this.live.length > this.size) {
      const old = this.live.shift()!;
      if (old.discontinuity) this.discontinuitySeq++;
      this.retired.push({ seg: old, until: now + old.durationMs + this.durationMs() });
    }
    this.prune(now);
    this.rendered = undefined;
  }

  /** A listed or still fetchable segment by name, else undefined (404). */
  segment(name: string, now: number): HlsSegment | undefined {
    for (const s of this.live) if (s.name === name) return s;
    this.prune(now);
    for (const r of this.retired) if (r.seg.name === name) return r.seg;
    return undefined;
  }

  /** The playlist, undefined before the first segment. */
  playlist(): HlsPlaylist | undefined {
    if (this.live.length === 0) return undefined;
    return (this.rendered ??= this.render());
  }

  /** Sum of the listed segments' durations, ms. */
  private durationMs(): number {
    let ms = 0;
    for (const s of this.live) ms += s.durationMs;
    return ms;
  }

  private prune(now: number): void {
    if (this.retired.length > 0 && this.retired[0]!.until <= now) this.retired = this.retired.filter((r) => r.until > now);
  }

  private render(): HlsPlaylist {
    const first = this.live[0]!;
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:3',
      `#EXT-X-TARGETDURATION:${this.target}`,
      `#EXT-X-MEDIA-SEQUENCE:${first.seq}`,
      `#EXT-X-DISCONTINUITY-SEQUENCE:${this.discontinuitySeq}`,
    ];
    for (const s of this.live) {
      if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
      lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.startedAt).toISOString()}`);
      lines.push(`#EXTINF:${(s.durationMs / 1000).toFixed(3)},`);
      lines.push(this.urlPrefix + s.name);
    }
    const last = this.live[this.live.length - 1]!;
    return { body: Buffer.from(`${lines.join('\n')}\n`), etag: `"${this.epoch}-p${last.seq}"` };
  }
}
