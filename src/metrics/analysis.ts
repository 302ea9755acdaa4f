import type { AnalyzerView } from '../stream/contracts.js';

export interface StreamAnalysis {
  programs: { program: number; pmt_pid: number; pcr_pid: number; streams: { pid: number; stream_type: number; codec: string }[] }[];
  video_pid: number | null;
  video_codec: string | null;
  continuity_errors: number;
  /** Time since the last keyframe, ms; null before the first. */
  keyframe_age_ms: number | null;
  /** GOP length estimate (mean distance of the last keyframes), ms and packets; null until two keyframes. */
  gop_ms: number | null;
  gop_packets: number | null;
}

/** The statistics API's view of one stream's analysis (JSON keys in the API's style). */
export function describeAnalysis(a: AnalyzerView, now = Date.now()): StreamAnalysis {
  return {
    programs: a.programs.map((p) => ({
      program: p.program,
      pmt_pid: p.pmtPid,
      pcr_pid: p.pcrPid,
      streams: p.streams.map((s) => ({ pid: s.pid, stream_type: s.streamType, codec: s.codec })),
    })),
    video_pid: a.videoPid >= 0 ? a.videoPid : null,
    video_codec: a.videoCodec ?? null,
    continuity_errors: a.continuityErrors,
    keyframe_age_ms: a.rapTimeMs >= 0 ? Math.max(0, now - a.rapTimeMs) : null,
    gop_ms: a.gopMs >= 0 ? Math.round(a.gopMs) : null,
    gop_packets: a.gopPackets >= 0 ? Math.round(a.gopPackets) : null,
  };
}
