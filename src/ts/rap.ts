// Random access point (keyframe) detection at the start of a video PES.
// A byte-wise start-code scanner whose state survives packet boundaries, so a start code
// or NAL header split between two packets is still seen. Allocation-free.
//
// Decisions, made on the first picture-level unit found:
//   H.264  NAL 5 (IDR slice) -> key. NAL 1-4 (non-IDR slice) -> key only if an SPS (7)
//          came before it in the same access unit: encoders repeat parameter sets on
//          open-GOP / recovery-point keyframes and not on ordinary pictures.
//   HEVC   NAL 16-21 (BLA, IDR, CRA: the IRAP range) -> key; other VCL (0-31) -> not.
//   MPEG-2 sequence header (0xB3) -> key; picture header (0x00) -> key iff
//          picture_coding_type is I (1).
// When the budget of bytes runs out undecided (a big SEI pushed the slice further),
// `finish()` answers "key" iff parameter sets (H.264 SPS, HEVC VPS/SPS) were seen.

export const VideoKind = { None: 0, H264: 1, Hevc: 2, Mpeg2: 3 } as const;
export type VideoKind = (typeof VideoKind)[keyof typeof VideoKind];

/** feed() results. */
export const RAP_UNDECIDED = -1;
export const RAP_NO = 0;
export const RAP_YES = 1;

/** The scanner kind for a PMT stream_type, VideoKind.None if keyframes cannot be found in it. */
export function videoKindOf(streamType: number): VideoKind {
  switch (streamType) {
    case 0x1b: return VideoKind.H264;
    case 0x24: return VideoKind.Hevc;
    case 0x01:
    case 0x02: return VideoKind.Mpeg2;
    default: return VideoKind.None;
  }
}

// Scanner states.
const S_SCAN = 0;      // looking for 00 00 01
const S_HEADER = 1;    // next byte is the NAL header / start code value
const S_PICTURE = 2;   // MPEG-2: skipping the first byte after a picture start code
const S_PICTURE2 = 3;  // MPEG-2: this byte holds picture_coding_type

export class RapScanner {
  private kind: VideoKind = VideoKind.None;
  private state = S_SCAN;
  private zeros = 0;
  private sawParams = false;
  private result = RAP_UNDECIDED;
  /** Bytes still to skip before elementary stream data (a PES header split across packets). */
  skip = 0;

  begin(kind: VideoKind, skip = 0): void {
    this.kind = kind;
    this.state = S_SCAN;
    this.zeros = 0;
    this.sawParams = false;
    this.result = kind === VideoKind.None ? RAP_NO : RAP_UNDECIDED;
    this.skip = skip;
  }

  get decided(): boolean {
    return this.result !== RAP_UNDECIDED;
  }

  /** Scan data[start, end); returns RAP_YES, RAP_NO or RAP_UNDECIDED (feed more). */
  feed(data: Uint8Array, start: number, end: number): number {
    if (this.result !== RAP_UNDECIDED) return this.result;
    let i = start;
    if (this.skip > 0) {
      const n = Math.min(this.skip, end - i);
      this.skip -= n;
      i += n;
    }
    let state = this.state;
    let zeros = this.zeros;
    for (; i < end; i++) {
      const b = data[i]!;
      if (state === S_SCAN) {
        if (b === 0) zeros++;
        else {
          if (b === 1 && zeros >= 2) state = S_HEADER;
          zeros = 0;
        }
        continue;
      }
      if (state === S_HEADER) {
        state = S_SCAN;
        const r = this.unit(b);
        if (r === S_PICTURE) state = S_PICTURE;
        else if (r !== RAP_UNDECIDED) { this.result = r; break; }
        if (b === 0) zeros = 1; // the header byte may itself open the next start code
        continue;
      }
      if (state === S_PICTURE) { state = S_PICTURE2; continue; }
      // S_PICTURE2: temporal_reference (10 bits) then picture_coding_type (3 bits).
      this.result = ((b >> 3) & 0x07) === 1 ? RAP_YES : RAP_NO;
      break;
    }
    this.state = state;
    this.zeros = zeros;
    return this.result;
  }

  /** Budget exhausted: decide on what was seen. */
  finish(): boolean {
    if (this.result === RAP_UNDECIDED) this.result = this.sawParams ? RAP_YES : RAP_NO;
    return this.result === RAP_YES;
  }

  /** Classify the unit whose header byte is `b`: a decision, RAP_UNDECIDED, or S_PICTURE. */
  private unit(b: number): number {
    switch (this.kind) {
      case VideoKind.H264: {
        const t = b & 0x1f;
        if (t === 5) return RAP_YES;
        if (t >= 1 && t <= 4) return this.sawParams ? RAP_YES : RAP_NO;
        if (t === 7) this.sawParams = true;
        return RAP_UNDECIDED;
      }
      case VideoKind.Hevc: {
        const t = (b >> 1) & 0x3f;
        if (t >= 16 && t <= 21) return RAP_YES;
        if (t < 32) return RAP_NO;
        if (t === 32 || t === 33) this.sawParams = true;
        return RAP_UNDECIDED;
      }
      case VideoKind.Mpeg2:
        if (b === 0xb3) return RAP_YES;
        if (b === 0x00) return S_PICTURE;
        return RAP_UNDECIDED;
      default:
        return RAP_NO;
    }
  }
}
