// The status API of one process: the playlist of its streams (status/playlist.ts), and the pages over one data source (with the viewers where this process holds
// them, carried over a reload).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResourceConfig } from '../../../src/config/schema.js';
import { ClientRegistry, StatusApi } from '../../../src/status/index.js';
import { createPlaylist } from '../../../src/status/playlist.js';
import { StatsCollector, type StreamView } from '../../../src/metrics/stats.js';
import type { StatusStreamControl } from '../../../src/status/source.js';
import { capturedLogger, request, serve } from '../../helpers/inproc.js';
import { configOf } from '../../helpers/roles.js';

test('createPlaylist: every stream resource, by name, for the users allowed to see it', async () => {
  const cfg = await configOf({
    userlist: { admin: { password: 'pw' } },
    resources: [
      { type: 'stream', serve: '/a.ts', remote: 'http://127.0.0.1:9/a', name: 'A' },
      { type: 'stream', serve: '/b.ts', remote: 'http://127.0.0.1:9/b', authentication: { type: 'basic', users: ['admin'] } },
      { type: 'api', api: 'health', serve: '/h' },
    ],
  });
  const s = await serve(createPlaylist(cfg));
  try {
    const anon = (await request(`${s.base}/p.m3u`)).body.toString();
    assert.equal(anon, `#EXTM3U\n#EXTINF:-1 tvg-name="A",A\nhttp://127.0.0.1:${s.port}/a.ts\n`);
    const admin = (await request(`${s.base}/p.m3u`, { headers: { authorization: `Basic ${Buffer.from('admin:pw').toString('base64')}` } })).body.toString();
    assert.match(admin, /tvg-name="\/b\.ts",\/b\.ts\nhttp:\/\/127\.0\.0\.1:\d+\/b\.ts\n$/);
  } finally { await s.close(); }
});

function stream(name: string): { control: StatusStreamControl; view: StreamView } {
  const view: StreamView = {
    name, connected: true, offline: false, currentUrl: 'http://u/x', reconnects: 0, bytesIn: 0,
    aligner: { discardedBytes: 0, packetSize: 188 },
    hub: { packetsIn: 0, packetsSent: 0, packetsDropped: 0, clientCount: 0, clientMs: () => 0 },
  };
  const control: StatusStreamControl = {
    name, ondemand: false, offline: false, connected: true, idleOnDemand: false, inGrace: false, clientCount: 0, hub: { kind: 'relay' },
    setOffline: () => {},
  };
  return { control, view };
}

test('StatusApi: one page per resource over one source; viewers listed only where this process holds them; the registry carried on', async () => {
  const cfg = await configOf({ resources: [{ type: 'stream', serve: '/a.ts', remote: 'http://127.0.0.1:9/a', name: 'Channel A' }] });
  const stats = new StatsCollector({ streams: [], connections: () => 0, maxConnections: 0, fullConnections: 0, enabled: true, redact: (u) => u });
  const { log, lines } = capturedLogger();
  const make = (clientDetails: boolean, carriedClients?: ClientRegistry) =>
    new StatusApi({ cfg, streams: [stream('/a.ts')], stats, connections: () => 0, redact: (u) => u, clientDetails, carriedClients, log });

  const local = make(true);
  assert.ok(local.clients instanceof ClientRegistry);
  assert.equal(local.onClient, local.clients.add);
  const page = local.page({ type: 'api', api: 'status', serve: '/status' } as ResourceConfig, log);
  assert.ok(lines.some((l) => l.evt === 'warning' && String(l.msg).startsWith('status page without authentication: read-only')));
  const s = await serve(page);
  try {
    const snap = JSON.parse((await request(`${s.base}/status?snapshot`)).body.toString()) as { streams: { path: string; name: string }[] };
    assert.deepEqual(snap.streams.map((x) => [x.path, x.name]), [['/a.ts', 'Channel A']]);
    const html = await request(`${s.base}/status`);
    assert.equal(html.status, 200);
    assert.match(String(html.headers['content-type']), /^text\/html/);
  } finally { await s.close(); }
  const carried = make(true, local.clients);
  assert.equal(carried.clients, local.clients, 'a reload keeps the viewers');
  local.close();
  carried.close();

  const primary = make(false);
  assert.equal(primary.clients, undefined);
  assert.equal(primary.onClient, undefined);
  primary.page({ type: 'api', api: 'status', serve: '/status', authentication: { type: 'basic', realm: '', users: ['admin'] } } as ResourceConfig, log, true);
  assert.ok(lines.some((l) => l.evt === 'config' && l.msg === 'status page in multi-process mode: per-stream figures only, no per-client rows'));
  primary.close();
});
