// The benchmark's content: a real H.264 + AAC transport stream, made once with ffmpeg
// and cached in bench/.cache/. CBR (x264 nal-hrd=cbr, -muxrate) at the target bitrate,
// 2 s GOPs, PMT on PID 0x1000 (the clients exempt PSI from CC checks).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PMT_PID } from './stamp.js';

export const BENCH_DIR = resolve(import.meta.dirname, '..');
const CACHE = join(BENCH_DIR, '.cache');

/** Path of a 12 s H.264 TS at `bitrate` bit/s, generating it on first use. */
export function ensureMedia(bitrate: number): string {
  mkdirSync(CACHE, { recursive: true });
  const mbit = Math.round(bitrate / 1e5) / 10;
  const file = join(CACHE, `h264-${mbit}M.mpegts`);
  if (existsSync(file)) return file;
  const video = Math.round(bitrate * 0.85);
  const tmp = `${file}.tmp`;
  process.stderr.write(`bench: generating ${file} with ffmpeg (once)...\n`);
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '12', '-map', '0:v', '-map', '1:a',
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-threads', '2',
    '-b:v', String(video), '-maxrate', String(video), '-bufsize', String(Math.round(video / 2)),
    '-x264-params', 'nal-hrd=cbr:force-cfr=1', '-g', '50', '-keyint_min', '50', '-sc_threshold', '0',
    '-c:a', 'aac', '-b:a', '128k',
    '-f', 'mpegts', '-muxrate', String(bitrate), '-mpegts_pmt_start_pid', String(PMT_PID),
    tmp,
  ], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
  renameSync(tmp, file);
  return file;
}
