// Live HLS in a browser (docs/hls.md, "Players tested"): hls.js from npm, in headless
// Chromium, on a page served from another origin, plays the proxy's playlist through the
// real CLI, live and across an upstream switch. Needs Chromium (test/helpers/browser.ts).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { browserSkipReason, launchBrowser, openPage } from '../helpers/browser.js';
import { Scope } from '../helpers/scope.js';
import { until } from '../helpers/wait.js';

const scope = new Scope();
const dir = mkdtempSync(join(tmpdir(), 'rs-hls-browser-'));
const skip = browserSkipReason();
let browser: Browser | undefined;
let pageOrigin = '';

/** `s` seconds of H.264 (1 s GOP) with AAC, as a live encoder would send. */
function makeClip(name: string, s: number, hz: number): string {
  const p = join(dir, name);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-f', 'lavfi', '-i', `sine=frequency=${hz}:sample_rate=48000`,
    '-t', String(s), '-c:v', 'libx264', '-preset', 'veryfast', '-g', '25', '-sc_threshold', '0', '-c:a', 'aac', '-f', 'mpegts', p], { timeout: 60000 });
  return p;
}

// The player page: hls.js attached to a muted autoplaying <video>. It records when
// playback starts and when currentTime has run 10 s past that (each with the
// discontinuity sequence of the fragment playing then: above 0 after an upstream switch),
// and every fatal error.
const PAGE = `<!doctype html><meta charset="utf-8"><title>hls.js</title>
<video id="v" muted autoplay playsinline></video>
<script src="/hls.min.js"></script>
<script>
  const v = document.getElementById('v');
  window.result = { fatal: [], start: null, reached: null, ccStart: 0, cc: 0 };
  let cc = 0;
  v.addEventListener('timeupdate', () => {
    const r = window.result;
    if (r.start === null) { if (v.currentTime > 0) { r.start = { t: v.currentTime, at: performance.now() }; r.ccStart = cc; } return; }
    if (r.reached === null && v.currentTime - r.start.t >= 10) { r.reached = performance.now() - r.start.at; r.cc = cc; }
  });
  const hls = new Hls();
  hls.on(Hls.Events.FRAG_CHANGED, (_e, d) => { cc = d.frag.cc; });
  hls.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) window.result.fatal.push(d.type + ': ' + d.details); });
  hls.loadSource(new URLSearchParams(location.search).get('src'));
  hls.attachMedia(v);
</script>`;

/** A page server on a port of its own: another origin than the proxy's. */
async function startPageServer(): Promise<Server> {
  const hlsJs = readFileSync(createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js'));
  const server = createServer((req, res) => {
    if (req.url === '/hls.min.js') res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(hlsJs);
    else if (req.url?.startsWith('/player.html')) res.writeHead(200, { 'Content-Type': 'text/html' }).end(PAGE);
    else res.writeHead(req.url === '/favicon.ico' ? 204 : 404).end(); // no "404" console error for the icon
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

before(async () => {
  if (skip) return;
  const server = await startPageServer();
  scope.defer(() => new Promise((resolve) => server.close(resolve)));
  pageOrigin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await scope.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Result { fatal: string[]; start: { t: number; at: number } | null; reached: number | null; ccStart: number; cc: number }

/** Plays `playlist` in the page; resolves with what the page recorded once 10 s have played. */
async function play(playlist: string): Promise<{ result: Result; errors: string[] }> {
  const w = await openPage(browser!);
  scope.defer(() => w.context.close());
  await w.page.goto(`${pageOrigin}/player.html?src=${encodeURIComponent(playlist)}`);
  const read = () => w.page.evaluate(() => (window as unknown as { result: Result }).result);
  await until(async () => { const r = await read(); return r.start !== null || r.fatal.length > 0; }, 30000, 'playback to start');
  // 12 s of playback is the most the assertion allows; 1 s more lets a late result be seen.
  await until(async () => { const r = await read(); return r.reached !== null || r.fatal.length > 0; }, 13000, '10 s of playback')
    .catch(() => undefined);
  return { result: await read(), errors: w.errors };
}

function assertPlayed({ result, errors }: { result: Result; errors: string[] }): void {
  assert.deepEqual(result.fatal, [], 'no fatal hls.js error');
  assert.notEqual(result.reached, null, 'currentTime advanced by 10 s');
  assert.ok(result.reached! <= 12000, `10 s played in ${Math.round(result.reached!)} ms (at most 12 s)`);
  assert.deepEqual(errors, [], 'no page errors (a failed playlist or segment request among them)');
}

describe('hls.js in headless Chromium, on a page of another origin', { skip }, () => {
  test('plays a live stream: currentTime advances by 10 s within 12 s, no fatal error', async () => {
    const clip = makeClip('clip.ts', 4, 440);
    const p = await scope.proxy({ resources: [{ type: 'stream', serve: '/news.ts', hls: '/news.m3u8', remote: `file://${clip}?loop&realtime` }] });
    await until(async () => (await fetch(p.url('/news.m3u8'))).status === 200, 15000, 'a first segment');
    assertPlayed(await play(p.url('/news.m3u8')));
  });
});

describe('hls.js across an upstream switch', { skip }, () => {
  test('plays on through the discontinuities: currentTime advances by 10 s within 12 s, no fatal error', async () => {
    // Each upstream (its own time base) plays its 4 s once and ends; the other one follows
    // (whichever the shuffle puts first). Playback starts in the first one's segments, so
    // switches fall inside the 10 s the player is measured over.
    const a = makeClip('a.ts', 4, 440), b = makeClip('b.ts', 4, 660);
    const p = await scope.proxy({ reconnect: 1, resources: [{ type: 'stream', serve: '/s.ts', hls: '/s.m3u8',
      remote: `file://${a}?realtime`, remotes: [`file://${b}?realtime`] }] });
    await until(async () => (await fetch(p.url('/s.m3u8'))).status === 200, 15000, 'a first segment');
    const played = await play(p.url('/s.m3u8'));
    assertPlayed(played);
    assert.equal(played.result.ccStart, 0, 'playback started before the switch');
    assert.ok(played.result.cc >= 1, `playing past a discontinuity after 10 s (sequence ${played.result.cc})`);
  });
});
