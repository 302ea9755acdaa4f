// Live HLS through the real CLI (docs/hls.md): ffmpeg plays the playlist without a
// warning, a segment holds every PID of the program and starts with PAT, PMT and a
// keyframe, the playlist slides by the rules (RFC 8216) with no URL ever naming other
// content, and the HTTP side answers as documented (caching, ETag, Range, HEAD, CORS,
// 404 offline, never refused by maxconnections).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamClient } from '../helpers/proxy.js';
import { sleep, until } from '../helpers/wait.js';
import { Scope } from '../helpers/scope.js';
import { PKT } from '../helpers/packets.js';

const scope = new Scope();
const dir = mkdtempSync(join(tmpdir(), 'rs-hls-'));
after(async () => { await scope.close(); rmSync(dir, { recursive: true, force: true }); });

/** `s` seconds of H.264 (1 s GOP) with two AAC tracks: a program of three elementary PIDs. */
function makeClip(name: string, s: number, hz = 440): string {
  const p = join(dir, name);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-f', 'lavfi', '-i', `sine=frequency=${hz}:sample_rate=48000`,
    '-f', 'lavfi', '-i', 'sine=frequency=880:sample_rate=48000', '-map', '0', '-map', '1', '-map', '2',
    '-t', String(s), '-c:v', 'libx264', '-preset', 'veryfast', '-g', '25', '-sc_threshold', '0', '-c:a', 'aac', '-f', 'mpegts', p], { timeout: 60000 });
  return p;
}

interface Playlist { target: number; sequence: number; entries: { duration: number; uri: string }[] }

/** The few tags checked here, parsed by hand (RFC 8216 4.3). */
function parsePlaylist(text: string): Playlist {
  const lines = text.split('\n');
  assert.equal(lines[0], '#EXTM3U');
  const tag = (name: string) => Number(lines.find((l) => l.startsWith(`${name}:`))?.slice(name.length + 1));
  const entries: Playlist['entries'] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('#EXTINF:')) continue;
    assert.ok(lines[i - 1]!.startsWith('#EXT-X-PROGRAM-DATE-TIME:'), 'each segment has a date');
    entries.push({ duration: parseFloat(lines[i]!.slice(8)), uri: lines[i + 1]! });
  }
  return { target: tag('#EXT-X-TARGETDURATION'), sequence: tag('#EXT-X-MEDIA-SEQUENCE'), entries };
}

const clip = makeClip('clip.ts', 4);
const upstream = `file://${clip}?loop&realtime`;

async function hlsProxy(extra: Record<string, unknown> = {}) {
  const p = await scope.proxy({ resources: [{ type: 'stream', serve: '/news.ts', hls: '/news.m3u8', remote: upstream }], ...extra });
  await until(async () => (await fetch(p.url('/news.m3u8'))).status === 200, 15000, 'a first segment');
  return p;
}

const programPids = (input: string): number[] => {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=id', '-of', 'csv=p=0', input], { timeout: 20000 }).toString();
  return out.trim().split('\n').map((l) => Number(l)).sort((a, b) => a - b);
};

test('ffmpeg plays the playlist without a warning; a segment has every PID and starts with PAT, PMT and a keyframe', async () => {
  const p = await hlsProxy();
  const r = spawnSync('ffmpeg', ['-hide_banner', '-v', 'warning', '-nostdin', '-i', p.url('/news.m3u8'), '-t', '10', '-f', 'null', '-'], { timeout: 60000, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '', 'ffmpeg printed nothing');

  const pl = parsePlaylist(await (await fetch(p.url('/news.m3u8'))).text());
  for (const [i, e] of pl.entries.entries()) {
    const seg = Buffer.from(await (await fetch(new URL(e.uri, p.url('/news.m3u8')))).arrayBuffer());
    const file = join(dir, `seg-${i}.ts`);
    writeFileSync(file, seg);
    assert.deepEqual(programPids(file), programPids(clip), `${e.uri}: every PID of the program`);
    assert.equal(seg.length % PKT, 0);
    const pid = (k: number) => ((seg[k * PKT + 1]! & 0x1f) << 8) | seg[k * PKT + 2]!;
    assert.equal(pid(0), 0, 'PAT first');
    assert.equal(pid(1), 0x1000, 'then the PMT (ffmpeg puts it on 0x1000)');
    const key = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=flags', '-read_intervals', '%+#1', '-of', 'csv=p=0', file]).toString().trim();
    assert.match(key, /^K/, `${e.uri}: the first video frame is a keyframe`);
  }
});

test('the playlist slides by the rules for 20 s: sequence increments, EXTINF within the target, no URL names other content', async () => {
  const p = await hlsProxy({ maxconnections: 1 });
  // The one connection slot is taken by a TS viewer: HLS does not count against it.
  const viewer = new StreamClient(p.url('/news.ts'));
  scope.defer(() => viewer.close());
  await viewer.responded;
  const seen = new Map<string, string>();
  let target = 0, lastSeq = -1, lastFirst = '';
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    const res = await fetch(p.url('/news.m3u8'));
    assert.equal(res.status, 200);
    const pl = parsePlaylist(await res.text());
    if (target === 0) target = pl.target;
    assert.equal(pl.target, target, 'the target duration never changes');
    assert.ok(pl.entries.length <= 6, 'a window of hlswindow segments');
    for (const [i, e] of pl.entries.entries()) {
      assert.ok(Math.round(e.duration) <= target, `EXTINF ${e.duration} within the target ${target}`);
      const seq = pl.sequence + i;
      if (seq > lastSeq) {
        assert.ok(lastSeq < 0 || seq === lastSeq + 1, `sequence ${seq} follows ${lastSeq}`);
        assert.ok(!seen.has(e.uri), `${e.uri} is new`);
        const body = Buffer.from(await (await fetch(new URL(e.uri, p.url('/news.m3u8')))).arrayBuffer());
        seen.set(e.uri, createHash('sha1').update(body).digest('hex'));
        lastSeq = seq;
      }
    }
    if (pl.entries[0]!.uri !== lastFirst) lastFirst = pl.entries[0]!.uri;
    await sleep(500);
  }
  assert.ok(seen.size >= 8, `segments came (${seen.size})`);
  // Every URL still fetchable has the same content as when it was first fetched.
  for (const [uri, hash] of seen) {
    const res = await fetch(new URL(uri, p.url('/news.m3u8')));
    if (res.status === 404) continue;
    assert.equal(createHash('sha1').update(Buffer.from(await res.arrayBuffer())).digest('hex'), hash, `${uri} unchanged`);
  }
  assert.equal(viewer.ended, false);
});

test('HTTP: caching headers, ETag, HEAD, Range, CORS; 404 offline and for unknown segments', async () => {
  const p = await hlsProxy({ resources: [
    { type: 'stream', serve: '/news.ts', hls: '/news.m3u8', remote: upstream },
    { type: 'stream', serve: '/down.ts', hls: '/down.m3u8', remote: 'http://127.0.0.1:9/none.ts' },
  ] });
  const res = await fetch(p.url('/news.m3u8'));
  assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl');
  assert.match(res.headers.get('cache-control') ?? '', /max-age=1\b/);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  const etag = res.headers.get('etag')!;
  const pl = parsePlaylist(await res.text());
  assert.equal((await fetch(p.url('/news.m3u8'), { headers: { 'If-None-Match': etag } })).status, 304);
  const segUrl = new URL(pl.entries[0]!.uri, p.url('/news.m3u8'));
  assert.match(segUrl.pathname, /^\/news\.m3u8\/[0-9a-z]+-\d+\.ts$/);
  const full = await fetch(segUrl);
  assert.match(full.headers.get('cache-control') ?? '', /immutable/);
  const body = Buffer.from(await full.arrayBuffer());
  const head = await fetch(segUrl, { method: 'HEAD' });
  assert.equal(head.headers.get('content-length'), String(body.length));
  const part = await fetch(segUrl, { headers: { Range: 'bytes=188-375' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 188-375/${body.length}`);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), body.subarray(188, 376));
  assert.equal((await fetch(segUrl, { headers: { 'If-None-Match': full.headers.get('etag')! } })).status, 304);
  assert.equal((await fetch(p.url('/news.m3u8/nope-1.ts'))).status, 404);
  assert.equal((await fetch(p.url('/down.m3u8'))).status, 404, 'an offline stream has no playlist');
});

test('across upstream switches: a discontinuity in the playlist, and ffmpeg plays on without an error', async () => {
  const a = makeClip('a.ts', 7, 440), b = makeClip('b.ts', 7, 660);
  // Each upstream plays its clip once in real time and ends; the other one follows.
  const p = await scope.proxy({ reconnect: 1, resources: [
    { type: 'stream', serve: '/s.ts', hls: '/s.m3u8', remote: `file://${a}?realtime`, remotes: [`file://${b}?realtime`] }] });
  await until(async () => (await fetch(p.url('/s.m3u8'))).status === 200, 15000, 'a first segment');
  const r = spawnSync('ffmpeg', ['-hide_banner', '-v', 'warning', '-nostdin', '-i', p.url('/s.m3u8'), '-t', '14', '-f', 'null', '-'], { timeout: 60000, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  // Each upstream has its own time base. ffmpeg's command line re-times the jump back by
  // the offset the first stream after it shows, so its null muxer may remark on the
  // audio's last frame before the splice overlapping the next (as in splice.test.ts):
  // the time base change, not damage. Nothing else may be printed.
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.includes('non monotonically increasing dts to muxer'));
  assert.deepEqual(lines, [], r.stderr);
  const text = await (await fetch(p.url('/s.m3u8'))).text();
  assert.match(text, /#EXT-X-DISCONTINUITY\n/, text);
});

test('a reload that restarts the stream starts a new epoch (no URL reused); HLS takes the stream\'s authentication', async () => {
  const res = { type: 'stream', serve: '/news.ts', hls: '/news.m3u8', remote: upstream };
  const p = await hlsProxy({ resources: [res] });
  const before = parsePlaylist(await (await fetch(p.url('/news.m3u8'))).text()).entries.map((e) => e.uri);
  writeFileSync(p.configPath, JSON.stringify({ listen: '127.0.0.1:0', userlist: { u: { password: 'pw' } },
    resources: [{ ...res, hlswindow: 4, authentication: { type: 'basic', user: 'u' } }] }));
  const reloads = () => p.logs.filter((l) => l.evt === 'reload').length;
  const seen = reloads();
  p.proc.kill('SIGHUP');
  await until(() => reloads() > seen, 10000, 'reload log line');
  assert.equal((await fetch(p.url('/news.m3u8'))).status, 401);
  assert.equal((await fetch(new URL(before[0]!, p.url('/news.m3u8')))).status, 401, 'segments too');
  const auth = { Authorization: `Basic ${Buffer.from('u:pw').toString('base64')}` };
  await until(async () => (await fetch(p.url('/news.m3u8'), { headers: auth })).status === 200, 15000, 'a first segment after the reload');
  const r = await fetch(p.url('/news.m3u8'), { headers: auth });
  assert.equal(r.headers.get('access-control-allow-origin'), null, 'no CORS with authentication');
  assert.match(r.headers.get('cache-control') ?? '', /^private/);
  const after = parsePlaylist(await r.text()).entries.map((e) => e.uri);
  const epoch = (u: string) => u.slice(u.lastIndexOf('/') + 1).split('-')[0];
  assert.notEqual(epoch(after[0]!), epoch(before[0]!), 'a new epoch');
  for (const u of after) assert.ok(!before.includes(u), `${u} was not used before`);
  assert.equal((await fetch(new URL(before[0]!, p.url('/news.m3u8')), { headers: auth })).status, 404, 'the old epoch is gone');
});

test('on demand: the first playlist request starts the upstream and waits for a first segment; the upstream stops `linger` after the last poll', async () => {
  const p = await scope.proxy({ resources: [{ type: 'stream', serve: '/od.ts', hls: '/od.m3u8', remote: upstream, ondemand: true, linger: 1 }] }, false);
  const r = await fetch(p.url('/od.m3u8'));
  assert.equal(r.status, 200);
  assert.ok(parsePlaylist(await r.text()).entries.length >= 1);
  await p.waitLog((l) => l.msg === 'on-demand upstream stopped: no viewers', 10000);
});
