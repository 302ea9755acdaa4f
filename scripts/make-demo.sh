#!/bin/sh
# Regenerates examples/demo/demo.ts: a small MPEG-TS test stream that loops cleanly.
#   6 s, 640x360 25 fps H.264 (main profile, closed 2 s GOP: -g 50, keyint_min 50,
#   no scene-cut keyframes; testsrc2 shows a running clock, and drawtext adds the loop
#   position and frame number when a font is available),
#   plus a 1 kHz sine as AAC. Exactly 6 s = 3 GOPs, so a loop restarts on a keyframe.
# Looping the file restarts timestamps and continuity counters. initial_discontinuity
# sets the discontinuity indicator on each PID's first packet, so the counter jump at a
# loop point is legal (ffmpeg reports no corrupt packets over a looped copy); timestamps
# still jump back once per loop, which players (ffplay, VLC, mpv) ride through.
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
  -f lavfi -i "testsrc2=size=640x360:rate=25:duration=6" \
  -f lavfi -i "sine=frequency=1000:sample_rate=48000:duration=6" \
  -vf "$vf" \
  -c:v libx264 -profile:v main -preset veryfast -tune zerolatency \
  -g 50 -keyint_min 50 -sc_threshold 0 -bf 0 \
  -b:v 550k -maxrate 600k -bufsize 600k \
  -c:a aac -b:a 64k -ac 2 \
  -t 6 -f mpegts -mpegts_flags +resend_headers+initial_discontinuity -pcr_period 20 \
  "$out"
ls -l "$out"
