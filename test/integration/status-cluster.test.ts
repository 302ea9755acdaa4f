// The status page and playlist in multi-process mode (workers: 2): per-stream figures from
// the primary (viewer counts summed over the workers), offline/online through the primary,
// no per-client rows, and "end client" answered 501 with the reason, not silently broken.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { ROOT, startProxy, StreamClient, type ProxyProcess } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';

const H264 = join(ROOT, 'test', 'fixtures', 'mpegts', 'h264_aac.mpegts');
const AUTH = `Basic ${Buffer.from('admin:secret').toString('base64')}`;

function request(url: string, method = 'GET', headers: Record<string, string> = { Authorization: AUTH }): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.setTimeout(8000, () => req.destroy(new Error(`no answer from ${url}`)));
    req.end();
  });
}

/** Ask for snapshots until `ok` holds (bounded). */
async function snapshotUntil(ok: (s: Snap) => boolean, what: string): Promise<Snap> {
  let last: Snap | undefined;
  await until(async () => {
    last = JSON.parse((await request(p.url('/status?snapshot'))).text) as Snap;
    return ok(last);
  }, 10000, what, 100).catch((e: unknown) => { throw new Error(`${String(e)}: ${JSON.stringify(last)}`); });
  return last!;
}

interface Snap { clientDetails: boolean; connections: number; streams: { path: string; state: string; clients: number; clientList: unknown[] }[] }

let p: ProxyProcess;
before(async () => {
  p = await startProxy({
    workers: 2,
    userlist: { admin: { password: 'secret' } },
    resources: [
      { type: 'stream', serve: '/live.ts', remote: `file://${H264}?loop&realtime` },
      { type: 'api', api: 'status', serve: '/status', authentication: { type: 'basic', users: ['admin'] } },
      { type: 'api', api: 'playlist', serve: '/playlist.m3u' },
    ],
  }, { waitStreams: true });
});
// eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
after(async () => { await p?.stop(); });

it('multi-process mode: per-stream figures, offline/online, playlist; ending a client is 501', async () => {
  const viewer = new StreamClient(p.url('/live.ts'), { keep: false });
  await viewer.responded;
  assert.equal(viewer.status, 200);
  const snap = await snapshotUntil((s) => s.streams[0]!.clients === 1, 'the viewer counted by the primary');
  assert.equal(snap.clientDetails, false);
  assert.equal(snap.connections, 1);
  assert.equal(snap.streams[0]!.state, 'connected');
  assert.deepEqual(snap.streams[0]!.clientList, []);

  const end = await request(p.url('/status?action=end&client=c1'), 'POST');
  assert.equal(end.status, 501);
  assert.match(end.text, /multi-process/);

  assert.equal((await request(p.url('/status?action=offline&stream=/live.ts'), 'POST')).status, 200);
  await viewer.done; // the worker ended it
  assert.equal((await request(p.url('/live.ts'), 'GET', {})).status, 404);
  assert.equal((await request(p.url('/status?action=online&stream=/live.ts'), 'POST')).status, 200);
  await snapshotUntil((s) => s.streams[0]!.state === 'connected', 'online again');

  const pl = await request(p.url('/playlist.m3u'), 'GET', {});
  assert.equal(pl.text, `#EXTM3U\n#EXTINF:-1 tvg-name="/live.ts",/live.ts\nhttp://127.0.0.1:${p.port}/live.ts\n`);
});
