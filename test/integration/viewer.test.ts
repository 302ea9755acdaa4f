// Viewer experience end to end: keyframe start (zapping), failover without disconnects,
// slow-client recovery, on-demand upstreams. Real CLI, real upstreams, ffmpeg decoding.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { StreamClient, tempDir, removeTempDir, type ProxyProcess } from '../helpers/proxy.js';
import { sleep, until } from '../helpers/wait.js';
import { fixtureTs, freePort, ffmpegHttpServer, waitListening, type PacedServer } from '../helpers/upstream.js';
import { Scope } from '../helpers/scope.js';
import { PKT } from '../helpers/packets.js';
import { StreamAnalyzer } from '../../src/ts/analyzer.js';

const scope = new Scope();
after(() => scope.close());

const paced = (rate?: number): Promise<PacedServer> => scope.paced(rate);

const proxy = (cfg: Record<string, unknown>, wait = true): Promise<ProxyProcess> => scope.proxy(cfg, wait);

/**
 * Cut a capture before the start of its last video PES: a client that hangs up mid-frame
 * leaves a truncated last frame, which is the test's doing, not the proxy's.
 */
function completeFrames(buf: Buffer): Buffer {
  const n = Math.floor(buf.length / PKT);
  const a = new StreamAnalyzer();
  a.scan(buf, 0, n, 0);
  const v = a.videoPid;
  for (let i = n - 1; i > 0; i--) {
    const o = i * PKT;
    if ((((buf[o + 1]! & 0x1f) << 8) | buf[o + 2]!) === v && (buf[o + 1]! & 0x40)) return buf.subarray(0, o);
  }
  return buf.subarray(0, n * PKT);
}

/** ffmpeg's complaints when decoding a capture (empty = clean). */
function decodeErrors(capture: Buffer): string {
  capture = completeFrames(capture);
  // RS_KEEP_CAPTURES (with node --test, not npm test, which removes its temporary folder).
  const dir = process.env.RS_KEEP_CAPTURES ? mkdtempSync(join(tmpdir(), 'rs-dec-')) : tempDir('rs-dec-');
  const f = join(dir, 'cap.ts');
  writeFileSync(f, capture);
  const r = spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', '-i', f, '-f', 'null', '-'], { encoding: 'utf8', timeout: 30000 });
  if (process.env.RS_KEEP_CAPTURES) console.log('capture kept at', f);
  else removeTempDir(dir);
  // Timestamps that jump back (a looped test source) are a muxer remark, not a decode error.
  return r.stderr.split('\n').filter((l) => l.trim() && !l.includes('non monotonically increasing dts')).join('\n');
}

/** Index of the first packet the analyzer recognises as a keyframe in `buf` (-1 if none). */
function firstKeyframe(buf: Buffer): number {
  const n = Math.floor(buf.length / PKT);
  const a = new StreamAnalyzer();
  for (let i = 0; i < n; i++) {
    a.scan(buf, i * PKT, 1, i);
    if (a.lastRapIndex >= 0) return a.lastRapIndex;
  }
  return -1;
}

test('zap: every new client starts with PAT, PMT and a keyframe, mid-GOP or not, and decodes cleanly from the start', async () => {
  const up = await paced();
  const p = await proxy({ reconnect: 1, workers: 1, resources: [{ type: 'stream', serve: '/k.ts', remote: up.url() }] });
  // A keyframe in the ring: from now on a client never waits for the next one. (How fast
  // the first picture comes is measured in bench/, not asserted here.)
  await p.waitLog((l) => l.evt === 'upstream_connect', 10000);
  const probe = new StreamClient(p.url('/k.ts'));
  await until(() => firstKeyframe(probe.body()) >= 0, 10000, 'a first keyframe');
  probe.close();
  let firstCapture: Buffer | undefined;
  for (let i = 0; i < 20; i++) {
    await sleep(Math.floor(Math.random() * 300)); // time passing is the point: joins at random points of the GOP
    const c = new StreamClient(p.url('/k.ts'));
    await until(() => c.bytes >= 3 * PKT && firstKeyframe(c.body()) >= 0, 5000, 'a keyframe');
    // The keyframe follows the PAT/PMT prefix at once: its first packet is among the first few.
    const at = firstKeyframe(c.body());
    assert.ok(at <= 4, `client ${i}: first keyframe at packet ${at}, not right after PAT/PMT`);
    if (i === 0) { await until(() => c.bytes > 600 * PKT, 5000, 'a second of data'); firstCapture = c.body(); }
    c.close();
  }
  const cap = firstCapture!;
  assert.equal(((cap[1]! & 0x1f) << 8) | cap[2]!, 0, 'the first packet is the PAT');
  assert.equal(decodeErrors(cap), '', 'ffmpeg decodes the capture from its first byte without errors');
});

test('failover: clients stay connected through an upstream switch and decode without errors after it', async () => {
  const a = await paced();
  const b = await paced();
  const p = await proxy({ reconnect: 1, grace: 10, resources: [{ type: 'stream', serve: '/f.ts', remote: a.url(), remotes: [b.url()] }] });
  const clients = [0, 1, 2].map(() => new StreamClient(p.url('/f.ts')));
  await Promise.all(clients.map((c) => c.responded));
  await until(() => clients.every((c) => c.bytes > 50 * PKT), 10000, 'data before the switch');
  const first = (p.logs.find((l) => l.evt === 'upstream_connect')!.url as string);
  const active = first === a.url() ? a : b;
  await active.stop(); // the active upstream dies mid-stream
  await until(() => p.logs.filter((l) => l.evt === 'upstream_connect').length >= 2, 8000, 'switch to the other upstream');
  const before = clients.map((c) => c.bytes);
  // A few GOPs of the new upstream (2 s GOP), so each capture has a switch point to decode from.
  await until(() => clients.every((c, i) => c.ended || c.bytes > before[i]! + 200_000), 15000, 'the new upstream\'s data on every client');
  for (const [i, c] of clients.entries()) {
    assert.equal(c.ended, false, `client ${i} still connected`);
    assert.ok(c.bytes > before[i]! + 50 * PKT, `client ${i} receives the new upstream`);
    c.close();
    const cap = c.body();
    const whole = cap.subarray(0, cap.length - (cap.length % PKT));
    for (let o = 0; o < whole.length; o += PKT) assert.equal(whole[o], 0x47, `client ${i}: aligned at ${o}`);
    // Decode from the switch on: the hub marks it with PAT, PMT and adaptation-only
    // discontinuity packets. (The old upstream's last frame, cut off by the kill, is
    // before it.)
    const sw = switchPoint(whole);
    assert.ok(sw > 0, `client ${i}: switch point found`);
    const errs = decodeErrors(whole.subarray(sw));
    assert.doesNotMatch(errs, /Invalid data|error while decoding|decode_slice_header|non-existing PPS|concealing/i, `client ${i} decode errors: ${errs}`);
  }
});

test('slow client: after a long pause it resumes at a keyframe; one that never reads is disconnected', async () => {
  const up = await paced(8_000_000); // fast, so socket buffers (several MB on loopback) fill quickly
  const p = await proxy({ reconnect: 1, outputbuffer: 400, slowtimeout: 2, resources: [
    { type: 'stream', serve: '/s.ts', remote: up.url() },
    { type: 'api', api: 'statistics', serve: '/stats' },
  ] });
  const dropped = async () => ((await (await fetch(p.url('/stats'))).json()) as { streams: Record<string, { packets_dropped: number }> }).streams['/s.ts']!.packets_dropped;
  // A raw client we can pause: headers, then a pause longer than its buffer allows.
  const sock = net.connect(p.port, '127.0.0.1');
  scope.defer(() => sock.destroy());
  const got: Buffer[] = [];
  sock.on('data', (d: Buffer) => got.push(d));
  sock.write('GET /s.ts HTTP/1.0\r\n\r\n');
  await until(() => Buffer.concat(got).length > 100 * PKT, 5000, 'the first data');
  sock.pause();
  // Paused until the hub has had to skip it ahead (its socket buffers full, 400 packets behind).
  await until(async () => (await dropped()) > 0, 10000, 'the paused client to lose packets', 50);
  const mark = Buffer.concat(got).length;
  sock.resume();
  // What the socket buffers held from before the skip comes first; read on until the
  // restart point (PAT/PMT + keyframe, found by the jump it leaves) and 200 packets after it.
  const received = () => { const all = Buffer.concat(got); return all.subarray(all.indexOf('\r\n\r\n') + 4); };
  await until(() => { const b = received(); const r = findResumePoint(b); return r > 0 && b.length - r > 200 * PKT; }, 10000, 'a restart point after resuming', 100);
  sock.destroy();
  const body = received();
  const disc = await p.waitLog((l) => l.evt === 'client_disconnect', 5000);
  assert.ok((disc.packetsDropped as number) > 0, 'the paused client lost data');
  assert.ok(body.length > mark, 'it received data after resuming');
  // The part after the skip decodes cleanly.
  const resumed = findResumePoint(body);
  assert.ok(resumed > 0, 'a PAT/PMT + keyframe restart point exists after the pause');
  const tail = body.subarray(resumed, resumed + Math.floor((body.length - resumed) / PKT) * PKT);
  assert.equal(decodeErrors(tail), '', 'decodes from the skip point without errors');

  // Never reads: disconnected after slowtimeout (2 s) and logged.
  const stalled = net.connect(p.port, '127.0.0.1');
  scope.defer(() => stalled.destroy());
  stalled.write('GET /s.ts HTTP/1.0\r\n\r\n');
  stalled.pause();
  const slow = await p.waitLog((l) => l.evt === 'client_disconnect' && l.reason === 'too_slow', 15000);
  assert.ok(slow, 'the stalled client was disconnected as too slow');
});

/** Byte offset of the PAT that precedes the hub's first discontinuity marker packet. */
function switchPoint(buf: Buffer): number {
  for (let o = 0; o + PKT <= buf.length; o += PKT) {
    const afOnly = (buf[o + 3]! & 0x30) === 0x20;
    if (afOnly && buf[o + 4] === PKT - 5 && (buf[o + 5]! & 0x80)) {
      let q = o;
      while (q >= PKT && !((((buf[q + 1]! & 0x1f) << 8) | buf[q + 2]!) === 0)) q -= PKT;
      return q;
    }
  }
  return -1;
}

/**
 * Byte offset where the hub restarted a client that had fallen behind: the upstream's
 * continuity counters are seamless (the test source rewrites them), so the skip leaves a
 * CC jump on each elementary stream's first packet after it (unless that stream lost a
 * multiple of 16 packets: looking at every stream makes a skip with no visible jump
 * rare), and the hub's PAT/PMT copies stand just before the earliest of them.
 */
function findResumePoint(body: Buffer): number {
  const n = Math.floor(body.length / PKT);
  const a = new StreamAnalyzer();
  a.scan(body, 0, n, 0);
  const pidAt = (i: number) => ((body[i * PKT + 1]! & 0x1f) << 8) | body[i * PKT + 2]!;
  const lastCc = new Map(a.programs.flatMap((p) => p.streams.map((s) => [s.pid, -1] as [number, number])));
  const lastJump = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const pid = pidAt(i);
    const last = lastCc.get(pid);
    if (last === undefined || !(body[i * PKT + 3]! & 0x10)) continue;
    const cc = body[i * PKT + 3]! & 0x0f;
    if (last >= 0 && cc !== ((last + 1) & 0x0f)) lastJump.set(pid, i);
    lastCc.set(pid, cc);
  }
  if (lastJump.size === 0) return -1;
  const skip = Math.min(...lastJump.values());
  for (let i = skip; i >= 0; i--) if (pidAt(i) === 0) return i * PKT;
  return -1;
}

test('on demand: no upstream without viewers, one with viewers, none again after linger', async () => {
  const up = await paced();
  const p = await proxy({ reconnect: 1, timeout: 5, resources: [{ type: 'stream', serve: '/o.ts', remote: up.url(), ondemand: true, linger: 1 }] }, false);
  await sleep(800); // time passing is the point: a window in which no upstream connection may be made
  assert.equal(up.requests, 0, 'no upstream connection while nobody watches');
  const c = new StreamClient(p.url('/o.ts'));
  await c.responded;
  assert.equal(c.status, 200);
  await until(() => c.bytes > 20 * PKT, 5000, 'data');
  assert.equal(up.active, 1, 'one upstream connection with a viewer');
  const c2 = new StreamClient(p.url('/o.ts'));
  await until(() => c2.bytes > 0, 5000, 'second viewer data');
  assert.equal(up.active, 1, 'still one upstream connection for two viewers');
  c.close();
  c2.close();
  // The linger: the upstream outlives its last viewer by 1 s (the proxy's own log times when they left).
  const left = () => p.logs.filter((l) => l.evt === 'client_disconnect');
  await until(() => left().length === 2, 5000, 'both viewers gone');
  const lastLeft = Math.max(...left().map((l) => Date.parse(l.time as string)));
  await until(() => up.active === 0, 4000, 'upstream closed after linger');
  const kept = Date.now() - lastLeft;
  assert.ok(kept >= 900, `the upstream was closed ${kept} ms after the last viewer left, within the 1 s linger`);
  // And it comes back for the next viewer.
  const c3 = new StreamClient(p.url('/o.ts'));
  await c3.responded;
  assert.equal(c3.status, 200);
  c3.close();
});

test('stream analysis in statistics and prometheus matches the known test stream (PIDs, codecs, GOP)', async () => {
  // ffmpeg as a live encoder: it loops the file with continuous timestamps, paced by them.
  const port = await freePort();
  const ff = ffmpegHttpServer(fixtureTs(), port);
  scope.defer(() => ff.kill('SIGKILL'));
  await waitListening(port);
  const p = await proxy({ reconnect: 1, workers: 1, resources: [
    { type: 'stream', serve: '/a.ts', remote: `http://127.0.0.1:${port}/live.ts` },
    { type: 'api', api: 'statistics', serve: '/stats' },
    { type: 'api', api: 'prometheus', serve: '/metrics' },
  ] });
  // Two keyframes (2 s GOP) are needed for a GOP estimate: wait until statistics has one.
  await until(async () => {
    const st = await (await fetch(p.url('/stats'))).json() as { streams: Record<string, { analysis?: { gop_ms?: number } }> };
    return (st.streams['/a.ts']?.analysis?.gop_ms ?? 0) > 0;
  }, 15000, 'a GOP estimate', 200);
  const probe = JSON.parse(spawnSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', fixtureTs()], { encoding: 'utf8' }).stdout) as { streams: { id: string; codec_name: string }[] };
  const expected = probe.streams.map((s) => ({ pid: Number(s.id), codec: s.codec_name })).sort((a, b) => a.pid - b.pid);
  const stats = await (await fetch(p.url('/stats'))).json() as { streams: Record<string, { analysis: { programs: { streams: { pid: number; codec: string }[] }[]; video_codec: string; gop_ms: number; continuity_errors: number; keyframe_age_ms: number } }> };
  const a = stats.streams['/a.ts']!.analysis;
  assert.deepEqual(a.programs[0]!.streams.map((s) => ({ pid: s.pid, codec: s.codec })).sort((x, y) => x.pid - y.pid), expected);
  assert.equal(a.video_codec, 'h264');
  assert.ok(Math.abs(a.gop_ms - 2000) < 100, `GOP ${a.gop_ms} ms`);
  assert.equal(a.continuity_errors, 0);
  // The encoder writes in bursts (its output buffer), so allow up to two GOPs.
  assert.ok(a.keyframe_age_ms >= 0 && a.keyframe_age_ms < 4000, `keyframe age ${a.keyframe_age_ms}`);
  const text = await (await fetch(p.url('/metrics'))).text();
  const gop = /^streaming_gop_seconds\{stream="\/a.ts"\} ([\d.]+)$/m.exec(text);
  assert.ok(gop && Math.abs(Number(gop[1]) - 2) < 0.1, `prometheus GOP ${gop?.[1]}`);
  for (const e of expected) assert.match(text, new RegExp(`streaming_elementary_stream_info\\{stream="/a.ts",program="\\d+",pid="${e.pid}",codec="${e.codec}"\\} 1`));
});
