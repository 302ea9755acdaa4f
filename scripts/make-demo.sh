#!/bin/sh
# Regenerates examples/demo/demo.ts: a small MPEG-TS test stream that loops seamlessly.
#   8 s, 640x360 25 fps H.264 (main profile, closed 2 s GOP: -g 50, keyint_min 50,
#   no scene-cut keyframes; testsrc2 shows a running clock, and drawtext adds the loop
#   position and frame number when a font is available),
#   plus a 1 kHz sine as AAC. Exactly 8 s = 4 GOPs, so a loop restarts on a keyframe.
# The file upstream's loop clock (src/ts/loopclock.ts) continues PCR, PTS, DTS and the
# continuity counters across each loop point, by the clip's duration: the longest of
# its streams. The audio is cut so that it lasts exactly as long as the video: 8 s is a
# whole number of video frames (40 ms) and of AAC frames (1024 samples at 48 kHz), and
# the encoder adds one frame of priming in front, so 8 s less 1024 samples of input make
# 375 frames = 8 s. Every frame of both streams is then evenly spaced, loop points
# included.
set -eu
cd "$(dirname "$0")/.."
out=examples/demo/demo.ts
font=""
for f in /usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf \
         /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf \
         /usr/share/fonts/TTF/DejaVuSans-Bold.ttf; do
  if [ -f "$f" ]; then font=$f; break; fi
done
vf="format=yuv420p"
if [ -n "$font" ]; then
  # testsrc2 already shows a running clock (top left); add the position in the loop
  # and the frame number (keyframes at 0, 50, 100).
  vf="drawtext=fontfile=$font:text='restreamer demo  %{pts\\:hms}  frame %{n}':x=20:y=h-50:fontsize=22:fontcolor=white:box=1:boxcolor=black@0.6,$vf"
fi
mkdir -p examples/demo
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=640x360:rate=25:duration=8" \
  -f lavfi -i "sine=frequency=1000:sample_rate=48000" \
  -af "atrim=end_sample=382976" \
  -vf "$vf" \
  -c:v libx264 -profile:v main -preset veryfast -tune zerolatency \
  -g 50 -keyint_min 50 -sc_threshold 0 -bf 0 \
  -b:v 550k -maxrate 600k -bufsize 600k \
  -c:a aac -b:a 64k -ac 2 \
  -t 8 -f mpegts -mpegts_flags +resend_headers -pcr_period 20 \
  "$out"
ls -l "$out"
