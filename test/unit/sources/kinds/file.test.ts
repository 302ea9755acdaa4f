// file:// against real files, FIFOs and a writer process. Pacing itself is unit-tested on
// fake time in ../pacer.test.ts; here the file kind drives it on real time, so the
// realtime tests wait for an amount of stream and check it did not come sooner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { performance } from 'node:perf_hooks';
import { fileKind } from '../../../../src/sources/kinds/file.js';
import { findSourceKind } from '../../../../src/sources/registry.js';
import type { RestreamerError } from '../../../../src/errors.js';
import type { Upstream } from '../../../../src/sources/source.js';
import { LoopClock } from '../../../../src/ts/loopclock.js';
import { PCR_HZ, pcrForward, readPcr } from '../../../../src/ts/pcr.js';
import { PKT, makeStream } from '../../../helpers/packets.js';
import { testContext } from '../../../helpers/datagram.js';
import { until } from '../../../helpers/wait.js';

const CLIP = fileURLToPath(new URL('../../../fixtures/mpegts/h264_aac.mpegts', import.meta.url));
const clip = readFileSync(CLIP);
const tmp = mkdtempSync(join(tmpdir(), 'rs-file-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

interface Opened { up: Upstream; chunks: Buffer[]; bytes: () => Buffer }

function open(url: string): Opened {
  const { ctx } = testContext(url);
  assert.equal(fileKind.validate!(ctx.url), undefined);
  const chunks: Buffer[] = [];
  const up = fileKind.open(ctx, (c) => { chunks.push(c); });
  return { up, chunks, bytes: () => Buffer.concat(chunks) };
}

const failsWith = (p: Promise<unknown>, code: string, re?: RegExp) =>
  assert.rejects(p, (e: RestreamerError) => e.code === code && (!re || re.test(e.message)));

test('file: a regular file in both URL forms (file:///x, file://localhost/x), clean end at EOF', async () => {
  assert.equal(findSourceKind('file'), fileKind);
  for (const url of [`file://${CLIP}`, `file://localhost${CLIP}`]) {
    const o = open(url);
    await o.up.connected;
    assert.deepEqual(await o.up.ended, {});
    assert.ok(o.bytes().equals(clip), url);
  }
});

test('file: garbage before the first packet is passed on as it is (the aligner skips it)', async () => {
  const path = join(tmp, 'junk.ts');
  const data = Buffer.concat([Buffer.from('not a packet'), makeStream(500)]);
  writeFileSync(path, data);
  const o = open(`file://${path}`);
  assert.deepEqual(await o.up.ended, {});
  assert.ok(o.bytes().equals(data));
});

test('file: validation and open errors', async () => {
  const v = (u: string) => fileKind.validate!(new URL(u));
  assert.match(v('file://relative/path.ts')!, /absolute local path: file:\/\/\/path \(got host "relative"\)/);
  assert.match(v('file:///x.ts?lop')!, /unknown file upstream option "lop" \(known: loop, realtime, bitrate\)/);
  assert.match(v('file:///x.ts?realtime&bitrate=fast')!, /invalid bitrate "fast"/);
  assert.match(v('file:///x.ts?realtime&bitrate=0')!, /invalid bitrate "0"/);
  for (const ok of ['file:///x.ts?loop&realtime&bitrate=2M', 'file:///x.ts?realtime&bitrate=4000k', 'file:///x.ts?realtime&bitrate=1.5M', 'file:///x.ts']) assert.equal(v(ok), undefined, ok);
  // open() checks for itself, as for a URL that skipped validation.
  assert.throws(() => fileKind.open(testContext('file:///x.ts?lop').ctx, () => {}), (e: RestreamerError) => e.code === 'UPSTREAM_UNSUPPORTED');
  await failsWith(open(`file://${join(tmp, 'missing.ts')}`).up.connected, 'UPSTREAM_IO', /ENOENT/);
  await failsWith(open(`file://${tmp}`).up.connected, 'UPSTREAM_IO', /is a directory/);
});

test('file: ?loop restarts at EOF as one stream (the loop clock continues timestamps and counters)', async () => {
  const path = join(tmp, 'loop.ts');
  const small = clip.subarray(0, PKT * 300);
  writeFileSync(path, small);
  const o = open(`file://${path}?loop`);
  await o.up.connected;
  await until(() => o.bytes().length >= small.length * 3, 10_000, 'three passes');
  o.up.close();
  assert.deepEqual(await o.up.ended, {});
  const got = o.bytes();
  // Each pass is the file again, with timestamps and continuity counters continued by the
  // loop clock (unit-tested in test/unit/ts/loopclock.test.ts): the same bytes the clock makes of it.
  const clock = new LoopClock();
  for (let i = 0; i < 3; i++) {
    const pass = Buffer.from(small);
    clock.process(pass, 0, pass.length);
    clock.restart();
    assert.ok(got.subarray(i * small.length, (i + 1) * small.length).equals(pass), `pass ${i}`);
  }
  assert.ok(got.subarray(0, small.length).equals(small), 'the first pass unchanged');
});

test('file: ?loop on an empty file ends instead of spinning', async () => {
  const path = join(tmp, 'empty.ts');
  writeFileSync(path, '');
  const o = open(`file://${path}?loop`);
  assert.deepEqual(await o.up.ended, {});
  assert.equal(o.bytes().length, 0);
});

const mkfifo = async (path: string) => { await promisify(execFile)('mkfifo', [path]); };

/** Whether this process holds a descriptor open on `path` (the open completed). */
function weHoldOpen(path: string): boolean {
  return readdirSync('/proc/self/fd').some((fd) => {
    try { return readlinkSync(`/proc/self/fd/${fd}`) === path; } catch { return false; }
  });
}

/** Whether some process holds the FIFO open for reading (a non-blocking writer open fails with ENXIO otherwise). */
function fifoHasReader(path: string): boolean {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENXIO') return false;
    throw e;
  }
}

test('file: a FIFO opens without a writer and without blocking; close() releases it', async () => {
  const fifo = join(tmp, 'idle.fifo');
  await mkfifo(fifo);
  const o = open(`file://${fifo}`);
  let connected = false;
  void o.up.connected.then(() => { connected = true; }, () => {});
  // A blocking open would never complete without a writer.
  await until(() => weHoldOpen(fifo), 3000, 'the FIFO open');
  await new Promise((r) => setImmediate(r));
  assert.equal(connected, false, 'a pipe without a writer is not connected');
  o.up.close();
  assert.deepEqual(await o.up.ended, {});
  await failsWith(o.up.connected, 'UPSTREAM_ENDED');
  await until(() => !weHoldOpen(fifo), 3000, 'descriptor released');
  assert.equal(fifoHasReader(fifo), false);
});

test('file: a writer that leaves a FIFO without writing ends the upstream before it connected', async () => {
  const fifo = join(tmp, 'empty.fifo');
  await mkfifo(fifo);
  const o = open(`file://${fifo}`);
  await until(() => weHoldOpen(fifo), 3000, 'the FIFO open');
  assert.equal(fifoHasReader(fifo), true, 'opened and closed a writer');
  await failsWith(o.up.connected, 'UPSTREAM_ENDED');
  assert.deepEqual(await o.up.ended, {});
});

test('file: a FIFO with a writer process delivers its bytes, ends when the writer closes', async () => {
  const fifo = join(tmp, 'live.fifo');
  await mkfifo(fifo);
  const o = open(`file://${fifo}`);
  await until(() => weHoldOpen(fifo), 3000, 'the FIFO open'); // reader first: the writer's open then succeeds at once
  const writer = spawn('sh', ['-c', 'cat "$0" > "$1"', CLIP, fifo], { stdio: 'ignore' });
  const exited = new Promise((r) => writer.once('exit', r));
  await o.up.connected;
  assert.deepEqual(await o.up.ended, {});
  assert.ok(o.bytes().equals(clip));
  await exited;
});

/** Delivered stream time: sum of PCR gaps, a backward jump (loop) counting as one typical gap. */
function pcrTimeline(buf: Buffer): { seconds: number; wraps: number } {
  let prev = -1, ticks = 0, wraps = 0, typical = PCR_HZ / 25;
  for (let o = 0; o + PKT <= buf.length; o += PKT) {
    const pcr = readPcr(buf, o);
    if (pcr < 0) continue;
    if (prev >= 0) {
      let gap = pcrForward(prev, pcr);
      if (gap > PCR_HZ) { gap = typical; wraps++; } else typical = gap;
      ticks += gap;
    }
    prev = pcr;
  }
  return { seconds: ticks / PCR_HZ, wraps };
}

/** Open `url`, wait until `enough(bytes)`, close; with the real time that took. */
async function collectUntil(url: string, enough: (b: Buffer) => boolean, what: string): Promise<Opened & { ms: number }> {
  const t0 = performance.now();
  const o = open(url);
  await o.up.connected;
  await until(() => enough(o.bytes()), 15_000, what);
  const ms = performance.now() - t0;
  o.up.close();
  await o.up.ended;
  return { ...o, ms };
}

test('file: ?realtime delivers at the PCR\'s pace, never ahead of it, in multi-packet chunks', async () => {
  const o = await collectUntil(`file://${CLIP}?realtime`, (b) => pcrTimeline(b).seconds >= 1.5, '1.5 s of stream');
  const got = o.bytes();
  assert.ok(got.equals(clip.subarray(0, got.length)), 'bytes in order');
  // The PCR packet that completes 1.5 s of stream is due 1.5 s after the first PCR went out.
  assert.ok(o.ms >= 1490, `1.5 s of stream arrived after ${o.ms.toFixed(0)} ms`);
  assert.ok(got.length < clip.length, 'not the whole 4 s clip');
  const avg = got.length / o.chunks.length;
  assert.ok(avg >= PKT * 2, `average chunk ${avg} bytes`);
});

test('file: ?loop&realtime wraps around and keeps the pace', async () => {
  // The first ~0.5 s of the clip (cut at a PCR packet), looped.
  let first = -1, cut = 0;
  for (let o = 0; o + PKT <= clip.length; o += PKT) {
    const pcr = readPcr(clip, o);
    if (pcr < 0) continue;
    if (first < 0) first = pcr;
    else if (pcr - first >= PCR_HZ / 2) { cut = o; break; }
  }
  const path = join(tmp, 'short.ts');
  writeFileSync(path, clip.subarray(0, cut));
  const o = await collectUntil(`file://${path}?loop&realtime`, (b) => pcrTimeline(b).seconds >= 1.5, '1.5 s of stream');
  const { wraps } = pcrTimeline(o.bytes());
  assert.ok(o.bytes().length > 2 * cut, 'at least two loop restarts');
  assert.equal(wraps, 0, 'the PCR never jumps back: the loop clock continues it');
  assert.ok(o.ms >= 1490, `1.5 s of stream arrived after ${o.ms.toFixed(0)} ms`);
});

test('file: ?realtime without PCR falls back to the given bitrate', async () => {
  // Packets with payload only (no adaptation field, so no PCR): 100 kB, looped.
  const path = join(tmp, 'nopcr.ts');
  writeFileSync(path, makeStream(532));
  const want = (800_000 / 8) * 1.5; // 1.5 s at 800 kbit/s
  const o = await collectUntil(`file://${path}?loop&realtime&bitrate=800k`, (b) => b.length >= want, `${want} bytes`);
  assert.ok(o.ms >= 1490, `${want} bytes at 800 kbit/s arrived after ${o.ms.toFixed(0)} ms`);
  assert.ok(o.chunks.length > 10, 'released over time, not at once');
});
