// The status page in a real browser (Debian's Chromium through playwright-core) against
// the real CLI, and the M3U playlist fetched and every URL in it streamed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readSse } from '../helpers/sse.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { ROOT, startProxy, StreamClient, type ProxyProcess } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';
import { PacedServer, tsByteRate } from '../helpers/upstream.js';
import { browserSkipReason, launchBrowser, openPage, type WatchedPage } from '../helpers/browser.js';

const FIX = join(ROOT, 'test', 'fixtures', 'mpegts');
const H264 = join(FIX, 'h264_aac.mpegts');
const MPEG2 = join(FIX, 'mpeg2_mp2.mpegts');
const ADMIN = { username: 'admin', password: 'secret' };
const VIEWER = { username: 'viewer', password: 'watch' };
const basic = (c: { username: string; password: string }) => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

interface Answer { status: number; headers: http.IncomingHttpHeaders; text: string }

function request(url: string, o: { method?: string; headers?: Record<string, string>; localAddress?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: o.method ?? 'GET', headers: o.headers, localAddress: o.localAddress, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.setTimeout(8000, () => req.destroy(new Error(`no answer from ${url}`)));
    req.end();
  });
}

interface StatStream { connected: boolean; offline: boolean; clients: number; url: string | null; bitrate_in: number; packets_dropped: number; analysis?: { continuity_errors: number; programs: { streams: { codec: string }[] }[] } }
async function statistics(p: ProxyProcess): Promise<{ connections: number; streams: Record<string, StatStream> }> {
  return JSON.parse((await request(p.url('/statistics'))).text) as { connections: number; streams: Record<string, StatStream> };
}

/** Every 188th byte is a sync byte, from the first. */
function isTs(buf: Buffer): boolean {
  if (buf.length < 188 * 4) return false;
  for (let i = 0; i + 188 <= buf.length; i += 188) if (buf[i] !== 0x47) return false;
  return true;
}

const skip = browserSkipReason();
let p: ProxyProcess;
let up: PacedServer;
let browser: Browser | undefined;

before(async () => {
  up = new PacedServer(readFileSync(H264), tsByteRate(H264));
  await up.start();
  p = await startProxy({
    reconnect: 1,
    trustedproxies: ['127.0.0.2'],
    userlist: { admin: { password: ADMIN.password }, viewer: { password: VIEWER.password } },
    resources: [
      // ffmpeg as a live source: its looped output keeps timestamps running (the preview plays on).
      { type: 'stream', serve: '/live.ts', name: 'Test card', remote: `fork://ffmpeg?-hide_banner+-loglevel+error+-re+-stream_loop+-1+-i+${encodeURIComponent(H264)}+-c+copy+-f+mpegts+-` },
      // Credentials in the upstream URL must never reach the page.
      { type: 'stream', serve: '/paid.ts', name: 'Paid "Movies", HD', remote: up.url('/src.ts').replace('http://', 'http://feed:hunter2@'),
        authentication: { type: 'basic', users: ['viewer'] } },
      { type: 'stream', serve: '/mpeg2.ts', remote: `file://${MPEG2}?loop&realtime` },
      { type: 'stream', serve: '/lazy.ts', name: 'On demand', ondemand: true, linger: 1, remote: `file://${H264}?loop&realtime` },
      // In a sub-directory: the page must reach the streams with "../live.ts".
      { type: 'api', api: 'status', serve: '/admin/status', authentication: { type: 'basic', realm: 'status', users: ['admin'] } },
      { type: 'api', api: 'status', serve: '/public-status' },
      { type: 'api', api: 'playlist', serve: '/playlist.m3u' },
      { type: 'api', api: 'statistics', serve: '/statistics' },
    ],
  });
  await until(() => p.logs.filter((l) => l.evt === 'upstream_connect').length >= 3, 15000, 'three upstreams');
  if (!skip) browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- unset if before() failed */
  await p?.stop();
  await up?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
});

describe('status page in a browser', { skip }, () => {
  let w: WatchedPage;
  before(async () => {
    w = await openPage(browser!, { httpCredentials: ADMIN });
    await w.page.goto(p.url('/admin/status'));
    await w.page.waitForSelector('section.stream[data-path="/live.ts"][data-state="connected"]', { timeout: 15000 });
  });
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
  after(async () => { await w?.context.close(); });

  it('loads with no console errors and shows every stream with its state', async () => {
    const paths = await w.page.$$eval('section.stream', (els) => els.map((e) => (e as HTMLElement).dataset.path));
    assert.deepEqual(paths, ['/live.ts', '/paid.ts', '/mpeg2.ts', '/lazy.ts']);
    assert.equal(await w.page.textContent('section[data-path="/live.ts"] [data-field="name"]'), 'Test card');
    assert.equal(await w.page.getAttribute('section[data-path="/lazy.ts"]', 'data-state'), 'idle');
    assert.deepEqual(w.errors, []);
  });

  it('shows the numbers the statistics API reports, and never upstream credentials', async () => {
    // Counters only grow: what the page shows lies between two statistics answers around it.
    await w.page.waitForFunction(() => Number(document.querySelector('section[data-path="/paid.ts"] [data-field="bitrate_in"]')?.getAttribute('data-value')) > 0, undefined, { timeout: 10000 });
    const before = await statistics(p);
    // A snapshot taken after `before`.
    const t = Date.now();
    await w.page.waitForFunction((t0) => Number(document.body.dataset.time) > t0, t, { timeout: 10000 });
    const shown = await w.page.evaluate(() => {
      const out: Record<string, Record<string, string>> = {};
      for (const s of document.querySelectorAll<HTMLElement>('section.stream')) {
        const f: Record<string, string> = {};
        for (const el of s.querySelectorAll<HTMLElement>('[data-field]')) f[el.dataset.field!] = el.dataset.value ?? el.textContent;
        f.codecs = [...s.querySelectorAll<HTMLElement>('.codec')].map((c) => c.dataset.codec).join(',');
        out[s.dataset.path!] = f;
      }
      return { streams: out, connections: document.querySelector<HTMLElement>('[data-field="connections"]')!.dataset.value! };
    });
    const after = await statistics(p);
    assert.equal(Number(shown.connections), after.connections);
    for (const path of ['/live.ts', '/paid.ts', '/mpeg2.ts']) {
      const s = shown.streams[path]!;
      const a = after.streams[path]!;
      const b = before.streams[path]!;
      assert.equal(s.state, a.connected ? 'connected' : 'connecting', path);
      assert.equal(Number(s.clients), a.clients, path);
      assert.equal(s.upstream, a.url, path);
      assert.equal(s.codecs, a.analysis!.programs.flatMap((pr) => pr.streams.map((e) => e.codec)).join(','), path);
      const cc = Number(s.continuity_errors);
      assert.ok(cc >= b.analysis!.continuity_errors && cc <= a.analysis!.continuity_errors, `${path} continuity errors ${cc}`);
      const drops = Number(s.packets_dropped);
      assert.ok(drops >= b.packets_dropped && drops <= a.packets_dropped, `${path} drops`);
      // Rates come from the same sampler, read up to a second apart.
      const rate = Number(s.bitrate_in);
      assert.ok(Math.abs(rate - a.bitrate_in) <= 0.25 * a.bitrate_in, `${path} bitrate in ${rate} vs ${a.bitrate_in}`);
    }
    const paid = shown.streams['/paid.ts']!.upstream!;
    assert.match(paid, /^http:\/\/feed:\*\*\*@127\.0\.0\.1:\d+\/src\.ts$/);
    assert.equal(JSON.stringify(shown).includes('hunter2'), false);
    const raw = await request(p.url('/admin/status?snapshot'), { headers: { Authorization: basic(ADMIN) } });
    assert.equal(raw.text.includes('hunter2'), false);
    assert.deepEqual(w.errors, []);
  });

  it('lists a viewer with its user agent and user, and ending it closes its connection', async () => {
    const c = new StreamClient(p.url('/paid.ts'), { keep: false, headers: { 'User-Agent': 'status-test/1', Authorization: basic(VIEWER) } });
    await c.responded;
    assert.equal(c.status, 200);
    const row = w.page.locator('section[data-path="/paid.ts"] tr', { hasText: 'status-test/1' });
    await w.page.click('section[data-path="/paid.ts"] details.clients summary');
    await row.waitFor({ timeout: 10000 });
    const cells = await row.locator('td').allTextContents();
    assert.equal(cells[0], '127.0.0.1');
    assert.equal(cells[2], 'viewer');
    await until(() => c.bytes > 0, 10000, 'viewer data');
    await row.locator('button', { hasText: 'End' }).click();
    await Promise.race([c.done, new Promise((_, rej) => setTimeout(() => rej(new Error('the ended client is still connected')), 10000))]);
    assert.equal(c.ended, false, 'the connection is cut, not a clean end of the response');
    await p.waitLog((l) => l.evt === 'client_disconnect' && l.reason === 'kicked' && l.stream === '/paid.ts');
    await p.waitLog((l) => l.evt === 'status_action' && l.action === 'end' && l.user === 'admin');
    await row.waitFor({ state: 'detached', timeout: 10000 });
    assert.deepEqual(w.errors, []);
  });

  it('sets a stream offline and online again (with a second click to confirm)', async () => {
    const viewer = new StreamClient(p.url('/live.ts'), { keep: false });
    await viewer.responded;
    const toggle = w.page.locator('section[data-path="/live.ts"] [data-action="toggle"]');
    assert.equal(await toggle.textContent(), 'Set offline');
    await toggle.click();
    assert.equal(await toggle.textContent(), 'Confirm offline');
    await toggle.click();
    await w.page.waitForSelector('section[data-path="/live.ts"][data-state="offline"]', { timeout: 10000 });
    assert.equal((await statistics(p)).streams['/live.ts']!.offline, true);
    await viewer.done; // offline ends every viewer
    assert.equal((await request(p.url('/live.ts'))).status, 404);
    assert.equal(await toggle.textContent(), 'Set online');
    await toggle.click();
    await w.page.waitForSelector('section[data-path="/live.ts"][data-state="connected"]', { timeout: 10000 });
    assert.equal((await statistics(p)).streams['/live.ts']!.offline, false);
    assert.deepEqual(w.errors, []);
  });

  it('plays an H.264/AAC stream in the page (currentTime advances), muted', async () => {
    await w.page.click('section[data-path="/live.ts"] [data-action="play"]');
    const video = 'section[data-path="/live.ts"] video';
    await w.page.waitForFunction((sel) => document.querySelector<HTMLVideoElement>(sel)!.currentTime > 0.5, video, { timeout: 20000 });
    const t0 = await w.page.$eval(video, (v) => (v as HTMLVideoElement).currentTime);
    await w.page.waitForFunction(([sel, t]) => document.querySelector<HTMLVideoElement>(sel as string)!.currentTime > t + 1, [video, t0] as const, { timeout: 20000 });
    assert.equal(await w.page.$eval(video, (v) => (v as HTMLVideoElement).muted), true);
    // The preview is a viewer like any other.
    await w.page.waitForSelector('section[data-path="/live.ts"] tr[data-client]', { state: 'attached', timeout: 10000 });
    await w.page.click('section[data-path="/live.ts"] [data-action="play"]'); // stop
    assert.deepEqual(w.errors, []);
  });

  it('says clearly when the codec cannot play in a browser (MPEG-2 video)', async () => {
    await w.page.click('section[data-path="/mpeg2.ts"] [data-action="play"]');
    const msg = await w.page.locator('section[data-path="/mpeg2.ts"] .preview-msg').textContent();
    assert.match(msg ?? '', /MPEG-2 video cannot play in this browser/);
    assert.deepEqual(w.errors, []);
  });

  it('without authentication the page is read-only', async () => {
    const r = await openPage(browser!);
    try {
      await r.page.goto(p.url('/public-status'));
      await r.page.waitForSelector('section.stream[data-path="/live.ts"]', { timeout: 15000 });
      assert.equal(await r.page.isHidden('section[data-path="/live.ts"] [data-action="toggle"]'), true);
      assert.deepEqual(r.errors, []);
    } finally {
      await r.context.close();
    }
  });
});

describe('health on the status page in a browser', { skip }, () => {
  let hp: ProxyProcess;
  let w: WatchedPage;
  const servers: PacedServer[] = [];
  before(async () => {
    // bad: the PAT stops 1 s into each connection while the connection stays up (pat_error).
    const bad = new PacedServer(readFileSync(H264), tsByteRate(H264));
    bad.drop = (pid, ms) => pid === 0 && ms > 1000;
    const good = new PacedServer(readFileSync(H264), tsByteRate(H264));
    servers.push(bad, good);
    for (const s of servers) await s.start();
    hp = await startProxy({
      reconnect: 1,
      resources: [
        { type: 'stream', serve: '/broken.ts', remote: bad.url('/a.ts') },
        // Health failover: leaves the broken remote once pat_error has been raised for 1 s.
        { type: 'stream', serve: '/switch.ts', remote: bad.url('/b.ts'), remotes: [good.url('/c.ts')], failover: 'health', alarmtime: 1 },
        { type: 'api', api: 'status', serve: '/status' },
      ],
    });
    w = await openPage(browser!);
    await w.page.goto(hp.url('/status'));
  });
  after(async () => {
    /* eslint-disable @typescript-eslint/no-unnecessary-condition -- unset if before() failed */
    await w?.context.close();
    await hp?.stop();
    /* eslint-enable @typescript-eslint/no-unnecessary-condition */
    for (const s of servers) await s.stop();
  });

  it('a stream with an active alarm shows its badge and its counts; the remote in use says why it is in use', async () => {
    const broken = 'section[data-path="/broken.ts"]';
    await w.page.waitForSelector(`${broken} .badge.alarm[data-alarm="pat_error"][data-priority="1"]`, { timeout: 15000 });
    await w.page.waitForSelector(`${broken} [data-field="health_errors"] .count[data-indicator="pat_error"][data-active]`, { timeout: 5000 });
    const counts = JSON.parse((await w.page.getAttribute(`${broken} [data-field="health_errors"]`, 'data-value'))!) as Record<string, number>;
    assert.ok(counts.pat_error! >= 1, JSON.stringify(counts));
    assert.equal(await w.page.getAttribute(`${broken} [data-field="upstream_reason"]`, 'data-value'), 'start');
    assert.match((await w.page.textContent(`${broken} [data-field="upstream_reason"]`))!, /^the first remote tried, \d+s ago$/);
    // The health failover: on the good remote, no alarm, and the reason for the switch.
    const sw = 'section[data-path="/switch.ts"]';
    await w.page.waitForSelector(`${sw} [data-field="upstream_reason"][data-value="health"]`, { timeout: 15000 });
    assert.match((await w.page.textContent(`${sw} [data-field="upstream_reason"]`))!, /^health failover from http:\/\/127\.0\.0\.1:\d+\/b\.ts: pat_error raised for 1 s, \d+s ago$/);
    assert.equal(await w.page.getAttribute(`${sw} [data-field="upstream"]`, 'data-value'), servers[1]!.url('/c.ts'));
    await w.page.waitForFunction((sel) => document.querySelectorAll(`${sel} .badge.alarm`).length === 0, sw, { timeout: 5000 });
    assert.deepEqual(w.errors, []);
  });
});

describe('status actions over HTTP', () => {
  const action = (path: string, q: string, headers: Record<string, string> = {}) => request(p.url(`${path}?${q}`), { method: 'POST', headers });

  it('need the status resource\'s credentials', async () => {
    assert.equal((await action('/admin/status', 'action=offline&stream=/mpeg2.ts')).status, 401);
    assert.equal((await action('/admin/status', 'action=offline&stream=/mpeg2.ts', { Authorization: basic(VIEWER) })).status, 401);
    assert.equal((await statistics(p)).streams['/mpeg2.ts']!.offline, false);
    const ok = await action('/admin/status', 'action=offline&stream=/mpeg2.ts', { Authorization: basic(ADMIN) });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await statistics(p)).streams['/mpeg2.ts']!.offline, true);
    assert.equal((await action('/admin/status', 'action=online&stream=/mpeg2.ts', { Authorization: basic(ADMIN) })).status, 200);
    assert.equal((await statistics(p)).streams['/mpeg2.ts']!.offline, false);
  });

  it('are refused from another site (CSRF), even with credentials', async () => {
    const hostile: Record<string, string>[] = [{ 'Sec-Fetch-Site': 'cross-site' }, { 'Sec-Fetch-Site': 'same-site' }, { Origin: 'http://evil.example' }, { Origin: 'null' }];
    for (const h of hostile) {
      const r = await action('/admin/status', 'action=offline&stream=/mpeg2.ts', { Authorization: basic(ADMIN), ...h });
      assert.equal(r.status, 403, JSON.stringify(h));
      assert.match(r.text, /cross-site/);
    }
    assert.equal((await statistics(p)).streams['/mpeg2.ts']!.offline, false);
    const same = await action('/admin/status', 'action=online&stream=/mpeg2.ts', { Authorization: basic(ADMIN), Origin: p.url('') });
    assert.equal(same.status, 200);
  });

  it('are refused without an authentication stanza, and unknown targets are 404', async () => {
    const r = await action('/public-status', 'action=offline&stream=/mpeg2.ts');
    assert.equal(r.status, 403);
    assert.match(r.text, /need authentication/);
    const auth = { Authorization: basic(ADMIN) };
    assert.equal((await action('/admin/status', 'action=offline&stream=/nope.ts', auth)).status, 404);
    assert.equal((await action('/admin/status', 'action=end&client=c999999', auth)).status, 404);
    assert.equal((await action('/admin/status', 'action=explode', auth)).status, 400);
    assert.equal((await statistics(p)).streams['/mpeg2.ts']!.offline, false);
  });

  it('serves live updates as Server-Sent Events', async () => {
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = http.get(p.url('/public-status?events'), { agent: false }, (res) => {
        assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
        readSse(res, (payload) => {
          got.push(payload);
          if (got.length >= 2) { req.destroy(); resolve(); }
        });
      });
      req.on('error', (e) => { if (got.length < 2) reject(e); });
      req.setTimeout(10000, () => req.destroy(new Error('no events')));
    });
    const m = JSON.parse(got[1]!) as { streams: { path: string; playUrl: string }[]; actions: boolean };
    assert.equal(m.actions, false);
    assert.deepEqual(m.streams.map((s) => s.playUrl), ['./live.ts', './paid.ts', './mpeg2.ts', './lazy.ts']);
  });
});

describe('playlist', () => {
  function parse(text: string): { name: string; tvgName: string; url: string }[] {
    const lines = text.split('\n');
    assert.equal(lines[0], '#EXTM3U');
    const out: { name: string; tvgName: string; url: string }[] = [];
    for (let i = 1; i < lines.length; i++) {
      if (lines[i] === '') continue;
      const m = /^#EXTINF:-1 tvg-name="([^"]*)",(.*)$/.exec(lines[i]!);
      assert.ok(m, `EXTINF line: ${lines[i]}`);
      const url = lines[++i]!;
      assert.doesNotThrow(() => new URL(url));
      out.push({ tvgName: m[1]!, name: m[2]!, url });
    }
    return out;
  }

  async function streams(url: string, headers: Record<string, string>): Promise<void> {
    const c = new StreamClient(url, { headers });
    await c.responded;
    assert.equal(c.status, 200, url);
    await until(() => c.bytes >= 188 * 8, 15000, `data from ${url}`);
    c.close();
    assert.ok(isTs(c.body().subarray(0, Math.floor(c.body().length / 188) * 188)), `${url} is MPEG-TS`);
  }

  it('lists what the caller may watch, and every URL in it streams', async () => {
    const anon = await request(p.url('/playlist.m3u'));
    assert.equal(anon.status, 200);
    assert.match(anon.headers['content-type']!, /^audio\/x-mpegurl/);
    const open = parse(anon.text);
    assert.deepEqual(open.map((e) => e.name), ['Test card', '/mpeg2.ts', 'On demand']);
    const mine = parse((await request(p.url('/playlist.m3u'), { headers: { Authorization: basic(VIEWER) } })).text);
    assert.deepEqual(mine.map((e) => e.name), ['Test card', 'Paid "Movies", HD', '/mpeg2.ts', 'On demand']);
    assert.equal(mine[1]!.tvgName, "Paid 'Movies', HD");
    assert.deepEqual(mine.map((e) => e.url), ['/live.ts', '/paid.ts', '/mpeg2.ts', '/lazy.ts'].map((x) => `http://127.0.0.1:${p.port}${x}`));
    for (const e of mine) await streams(e.url, { Authorization: basic(VIEWER) });
  });

  it('believes X-Forwarded-* only from a trusted proxy', async () => {
    const headers = { 'X-Forwarded-Host': 'tv.example', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Port': '8443', 'X-Forwarded-Prefix': '/tv' };
    const fromProxy = parse((await request(p.url('/playlist.m3u'), { headers, localAddress: '127.0.0.2' })).text);
    assert.equal(fromProxy[0]!.url, 'https://tv.example:8443/tv/live.ts');
    const direct = parse((await request(p.url('/playlist.m3u'), { headers })).text);
    assert.equal(direct[0]!.url, `http://127.0.0.1:${p.port}/live.ts`);
  });
});

describe('stream states', () => {
  it('shows "grace" while a lost upstream with viewers is replaced, then "connected"', async () => {
    const auth = { Authorization: basic(ADMIN) };
    const state = async () => ((JSON.parse((await request(p.url('/admin/status?snapshot'), { headers: auth })).text) as { streams: { path: string; state: string }[] })
      .streams.find((s) => s.path === '/paid.ts')!.state);
    const viewer = new StreamClient(p.url('/paid.ts'), { keep: false, headers: { Authorization: basic(VIEWER) } });
    await viewer.responded;
    await until(() => viewer.bytes > 0, 10000, 'viewer data');
    const port = up.port;
    await up.stop();
    await until(async () => (await state()) === 'grace', 5000, 'the stream in grace', 50);
    await up.start(port);
    await until(async () => (await state()) === 'connected', 10_000, 'the stream connected again', 50);
    assert.equal(viewer.ended, false, 'the viewer rode through');
    viewer.close();
  });
});
