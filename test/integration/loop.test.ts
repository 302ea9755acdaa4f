// Looped playout end to end: file:clip.ts?loop&realtime through the real CLI is one
// endless stream to its clients: no continuity error, PCR and every PID's DTS moving
// forward across the loop points, and ffmpeg (a real client) has nothing to say about it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamClient } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';
import { findSourceKind } from '../../src/sources/registry.js';
import { silentLogger } from '../../src/log/logger.js';
import { Scope } from '../helpers/scope.js';
import { checkStream, pesTimes } from '../helpers/continuity.js';

const scope = new Scope();
const dir = mkdtempSync(join(tmpdir(), 'rs-loop-'));
after(async () => { await scope.close(); rmSync(dir, { recursive: true, force: true }); });

/** A 2 s clip as anyone would make it: ffmpeg's test source and a tone, no special flags. */
function makeClip(): string {
  const p = join(dir, 'clip.ts');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '2', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '25', '-c:a', 'aac', '-f', 'mpegts', p], { timeout: 60000 });
  return p;
}
const clip = makeClip();

/** Lines ffmpeg writes about broken timing or damaged packets. */
const BAD = /corrupt|DTS|PTS|timestamp|out of order|monoton|discontinuity|Invalid|error/i;

/** Media time covered by a capture, s (its PCR span, unwrapped; the PCR moves forward only). */
function pcrSpan(buf: Buffer): number {
  let first = -1, last = -1;
  for (let o = 0; o + 188 <= buf.length; o += 188) {
    if (!(buf[o + 3]! & 0x20) || buf[o + 4]! < 7 || !(buf[o + 5]! & 0x10)) continue;
    const base = buf[o + 6]! * 33554432 + buf[o + 7]! * 131072 + buf[o + 8]! * 512 + buf[o + 9]! * 2 + (buf[o + 10]! >> 7);
    if (first < 0) first = base;
    last = base;
  }
  return first < 0 ? 0 : (((last - first) % 2 ** 33) + 2 ** 33) % 2 ** 33 / 90000;
}

test('looped file through the CLI: a client sees one stream over several loop points (0 CC errors, PCR and DTS monotonic)', async () => {
  const p = await scope.proxy({ workers: 1, resources: [{ type: 'stream', serve: '/loop.ts', remote: `file://${clip}?loop&realtime` }] });
  const c = new StreamClient(p.url('/loop.ts'));
  scope.defer(() => c.close());
  await c.responded;
  assert.equal(c.status, 200);
  // More than two loop points: 2.4 times the clip.
  const size = statSync(clip).size;
  await until(() => c.bytes > 2.4 * size, 20000, '2.4 clips of data');
  c.close();
  const cap = c.body().subarray(0, c.bytes - (c.bytes % 188));
  const chk = checkStream(cap);
  assert.equal(chk.syncErrors, 0);
  assert.equal(chk.ccErrors, 0, chk.notes.join('; '));
  assert.equal(chk.pcrErrors, 0, chk.notes.join('; '));
  assert.ok(pcrSpan(cap) > 4.4, `PCR span ${pcrSpan(cap)} s covers the loop points`);
  for (const pid of [0x100, 0x101]) {
    const { dts } = pesTimes(cap, pid);
    assert.ok(dts.length > 8, `pid ${pid}: ${dts.length} PES`);
    for (let i = 1; i < dts.length; i++) assert.ok(dts[i]! > dts[i - 1]!, `pid ${pid}: DTS ${dts[i]} after ${dts[i - 1]} (PES ${i})`);
  }
});

test('looped file through the CLI: ffmpeg -v warning reads 5 s (two loop points and more) and reports nothing', async () => {
  const p = await scope.proxy({ workers: 1, resources: [{ type: 'stream', serve: '/loop.ts', remote: `file://${clip}?loop&realtime` }] });
  const ff = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'warning', '-i', p.url('/loop.ts'), '-t', '5', '-f', 'null', '-'], { stdio: ['ignore', 'ignore', 'pipe'] });
  scope.defer(() => ff.kill('SIGKILL'));
  let stderr = '';
  ff.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => { ff.kill('SIGKILL'); }, 30000);
    ff.on('exit', (c) => { clearTimeout(t); resolve(c); });
  });
  assert.equal(code, 0, stderr);
  const bad = stderr.split('\n').filter((l) => BAD.test(l));
  assert.deepEqual(bad, [], stderr);
});

test('a looped 192-byte (M2TS) file from ffmpeg: every pass continues counters and PCR, its timestamps kept in place', async () => {
  const m2ts = join(dir, 'clip.m2ts');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', clip, '-c', 'copy', '-f', 'mpegts', '-mpegts_m2ts_mode', '1', m2ts], { timeout: 60000 });
  const size = statSync(m2ts).size;
  assert.equal(size % 192, 0);
  const url = new URL(`file://${m2ts}?loop&realtime`);
  const kind = findSourceKind(url.protocol)!;
  const chunks: Buffer[] = [];
  let got = 0;
  const up = kind.open({ url, stream: '/m', log: silentLogger(), inputBufferPackets: 1000, connectTimeoutMs: 0, options: { mru: 1500, rtpReorder: 8 } }, (c) => { chunks.push(c); got += c.length; });
  scope.defer(() => up.close());
  await until(() => got > 2.3 * size, 20000, 'more than two passes');
  up.close();
  const all = Buffer.concat(chunks);
  const ts: Buffer[] = [];
  for (let o = 0; o + 192 <= all.length; o += 192) {
    assert.equal(all[o + 4], 0x47, `sync byte of unit ${o / 192}`);
    ts.push(all.subarray(o + 4, o + 192));
  }
  const chk = checkStream(Buffer.concat(ts));
  assert.equal(chk.ccErrors, 0, chk.notes.join('; '));
  assert.equal(chk.pcrErrors, 0, chk.notes.join('; '));
  assert.ok(pcrSpan(Buffer.concat(ts)) > 4.4);
});
