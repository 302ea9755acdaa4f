// Clean splices end to end: a client riding through five upstream switches (two real
// upstreams taking turns) gets one stream a decoder accepts: 0 continuity errors by a
// strict checker, every PID's first packet after each switch flagged, and ffmpeg decodes
// the whole capture without an error line.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamClient } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';
import { Scope } from '../helpers/scope.js';
import { checkStream } from '../helpers/continuity.js';

const scope = new Scope();
const dir = mkdtempSync(join(tmpdir(), 'rs-splice-'));
after(async () => { await scope.close(); if (!process.env.RS_KEEP_CAPTURES) rmSync(dir, { recursive: true, force: true }); });

/** A 2 s clip made the ordinary way (1 s GOP); `hz` tells the two upstreams apart. */
function makeClip(name: string, hz: number): string {
  const p = join(dir, name);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-f', 'lavfi', '-i', `sine=frequency=${hz}:sample_rate=48000`,
    '-t', '2', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '25', '-c:a', 'aac', '-f', 'mpegts', p], { timeout: 60000 });
  return p;
}

const a = makeClip('a.ts', 440);
const b = makeClip('b.ts', 880);

for (const workers of [1, 2]) {
  test(`five upstream switches with grace (workers: ${workers}): 0 continuity errors, every PID flagged at each switch, ffmpeg decodes across them with no error`, async () => {
    await fiveSwitches(workers);
  });
}

async function fiveSwitches(workers: number): Promise<void> {
  // Each upstream plays its clip once in real time and ends: the supervisor then switches
  // to the other one at once (the connection lasted longer than `reconnect`).
  const p = await scope.proxy({
    workers, reconnect: 1, grace: 10,
    resources: [{ type: 'stream', serve: '/s.ts', remote: `file://${a}?realtime`, remotes: [`file://${b}?realtime`] }],
  });
  const c = new StreamClient(p.url('/s.ts'));
  scope.defer(() => c.close());
  await c.responded;
  assert.equal(c.status, 200);
  const connects = (): number => p.logs.filter((l) => l.evt === 'upstream_connect').length;
  const first = connects();
  await until(() => connects() >= first + 5, 40000, 'five upstream switches');
  const mark = c.bytes;
  await until(() => c.bytes > mark + 100 * 188, 10000, 'data after the fifth switch');
  c.close();
  assert.equal(c.ended, false, 'the client stayed connected through every switch');
  const cap = c.body().subarray(0, c.bytes - (c.bytes % 188));
  const chk = checkStream(cap);
  assert.equal(chk.syncErrors, 0);
  assert.equal(chk.ccErrors, 0, chk.notes.join('; '));
  assert.equal(chk.pcrErrors, 0, chk.notes.join('; '));
  // PAT, PMT, SDT, video and audio flagged at each of the five switches.
  assert.ok(chk.discontinuities >= 5 * 5, `${chk.discontinuities} discontinuity flags`);
  // Decode up to the last video PES start: the client hung up mid-frame, and that cut is ours.
  let end = cap.length;
  for (let o = cap.length - 188; o > 0; o -= 188) if ((((cap[o + 1]! & 0x1f) << 8) | cap[o + 2]!) === 0x100 && (cap[o + 1]! & 0x40)) { end = o; break; }
  const f = join(dir, `capture-${workers}.ts`);
  writeFileSync(f, cap.subarray(0, end));
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-i', f, '-f', 'null', '-'], { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, r.stderr);
  // Each upstream starts its own time base, announced by the discontinuity_indicator, which
  // ffmpeg's command line does not read: it re-times only jumps beyond its
  // dts_delta_threshold (10 s), so its null muxer remarks on the 2 s step back of the
  // re-encoded audio at each switch. That is the time base change, not damage.
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.includes('non monotonically increasing dts to muxer'));
  assert.deepEqual(lines, [], r.stderr);
}

// On-demand: the upstream stops after the last viewer leaves and starts again for the
// next one. That viewer must start in the new session, at its first keyframe, not in the
// old session's last GOP (still in the ring) running into the new one unmarked. The hub
// starts a new session when told the old one ended; the stream does not tell it when an
// on-demand upstream is stopped (src/stream/stream.ts, linger timer: after stopUpstream(),
// `this.endAll('upstream_lost')`, which ends nobody then, would).
test('on demand: a viewer after the upstream was stopped and restarted starts in the new session (0 continuity errors, PCR forward)', async () => {
  const p = await scope.proxy({
    workers: 1, reconnect: 1, timeout: 5,
    resources: [{ type: 'stream', serve: '/od.ts', remote: `file://${a}?loop&realtime`, ondemand: true, linger: 1 }],
  }, false);
  const first = new StreamClient(p.url('/od.ts'));
  scope.defer(() => first.close());
  await until(() => first.bytes > 200 * 188, 10000, 'first viewer data');
  await new Promise((r) => setTimeout(r, 1500)); // into the clip, past a keyframe
  first.close();
  await p.waitLog((l) => typeof l.msg === 'string' && l.msg.startsWith('on-demand upstream stopped'), 10000);
  const c = new StreamClient(p.url('/od.ts'));
  scope.defer(() => c.close());
  await c.responded;
  assert.equal(c.status, 200);
  await until(() => c.bytes > 400 * 188, 10000, 'second viewer data');
  c.close();
  const cap = c.body().subarray(0, c.bytes - (c.bytes % 188));
  const chk = checkStream(cap);
  assert.equal(chk.ccErrors, 0, chk.notes.join('; '));
  assert.equal(chk.pcrErrors, 0, chk.notes.join('; '));
});
