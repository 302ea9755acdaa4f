import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parseConfig } from '../../src/config/load.js';
import { ConfigSchema, ResourceSchema, keyMeta, keysWhere, type Config, type ResourceConfig } from '../../src/config/schema.js';
import { planReload } from '../../src/reload.js';

const cfg = (o: Record<string, unknown>) => parseConfig(JSON.stringify({ listen: '127.0.0.1:8000', ...o }), '/tmp');
const stream = (serve: string, remote: string, extra: Record<string, unknown> = {}) => ({ type: 'stream', serve, remote, ...extra });

test('unchanged streams are kept, changed ones restart, the rest is added or removed', async () => {
  const a = await cfg({ userlist: { u: { password: 'p' } }, resources: [stream('/a', 'http://127.0.0.1:1/a'), stream('/b', 'http://127.0.0.1:1/b'), stream('/c', 'http://127.0.0.1:1/c')] });
  const b = await cfg({ userlist: { u: { password: 'p' } }, resources: [
    // Only the authentication changed: checked per request, the stream is kept.
    stream('/a', 'http://127.0.0.1:1/a', { authentication: { type: 'basic', user: 'u' } }),
    stream('/b', 'http://127.0.0.1:1/other'),
    stream('/d', 'http://127.0.0.1:1/d'),
    { type: 'api', api: 'health', serve: '/health' },
  ] });
  assert.deepEqual(planReload(a, b), { keep: ['/a'], restart: ['/b'], remove: ['/c'], add: ['/d'], refused: [] });
});

test('a global key of the data path restarts every stream; listen and workers cannot change', async () => {
  const a = await cfg({ resources: [stream('/a', 'http://127.0.0.1:1/a')] });
  const b = await cfg({ outputbuffer: 800, resources: [stream('/a', 'http://127.0.0.1:1/a')] });
  assert.deepEqual(planReload(a, b).restart, ['/a']);
  const c = await cfg({ listen: '127.0.0.1:8001', workers: 2, resources: [stream('/a', 'http://127.0.0.1:1/a')] });
  assert.deepEqual(planReload(a, c).refused.map((r) => r.key), ['listen', 'workers']);
  // Limits, users and notifications change nothing on the data path.
  const d = await cfg({ maxconnections: 5, fullconnections: 3, heartbeatinterval: 30, resources: [stream('/a', 'http://127.0.0.1:1/a')] });
  assert.deepEqual(planReload(a, d), { keep: ['/a'], restart: [], remove: [], add: [], refused: [] });
});

// What each key's change does is the schema's KeyMeta.reload: planReload follows it for every key.
const STREAM = stream('/a', 'http://127.0.0.1:1/a');
const CHANGED: Record<keyof Config, unknown> = {
  $schema: './restreamer.schema.json', listen: '127.0.0.1:8001', tls: { listen: ':8443', cert: 'c.pem', key: 'k.pem' }, timeout: 5, reconnect: 3, readtimeout: 4, inputbuffer: 2000, outputbuffer: 800,
  maxconnections: 5, fullconnections: 3, nostats: true, logformat: 'json', profile: true, heartbeatinterval: 30, log: '/tmp/x.log', batchms: 5,
  batchmaxms: 50, grace: 1, workers: 2, drain: 5, slowtimeout: 5, trustedproxies: ['10.0.0.0/8'], userlist: { u: { password: 'p' } },
  resources: [STREAM, { type: 'api', api: 'health', serve: '/health' }], notifications: [{ event: 'limit_hit', url: 'http://127.0.0.1:1/hit' }],
  authfailures: 3, authwindow: 10, authblock: 5,
};

test('a changed top-level key restarts every stream, is applied, or is refused, as its KeyMeta says', async () => {
  const a = await cfg({ resources: [STREAM] });
  for (const [key, value] of Object.entries(CHANGED)) {
    const plan = planReload(a, await cfg({ resources: [STREAM], [key]: value }));
    const effect = keyMeta(ConfigSchema.shape[key as keyof Config])!.reload;
    const expected = {
      restart: { keep: [], restart: ['/a'], refused: [] as string[] },
      refuse: { keep: ['/a'], restart: [], refused: [key] },
      apply: { keep: ['/a'], restart: [], refused: [] },
      startup: { keep: ['/a'], restart: [], refused: [] },
    }[effect];
    assert.deepEqual({ keep: plan.keep, restart: plan.restart, refused: plan.refused.map((r) => r.key) }, expected, `${key} (${effect})`);
  }
});

test('a changed key of a stream restarts it, but for its authentication', async () => {
  const changed: Partial<Record<keyof ResourceConfig, unknown>> = {
    name: 'A', remote: 'http://127.0.0.1:1/b', remotes: ['http://127.0.0.1:1/c'], cache: 5, mru: 1316, clientinterface: 'lo', rtpreorder: 2,
    preamble: new URL(import.meta.url).pathname, start: 'live', ondemand: true, linger: 3,
    failover: 'health', failoveron: ['scrambled'], pidtimeout: 3, pcrinterval: 40, alarmclear: 2, alarmtime: 1, hls: '/a.m3u8', hlssegment: 4, hlswindow: 3, authentication: { type: 'basic', user: 'u' },
  };
  // The other keys change what the resource is: `type` and `serve` make it another resource, `api` is ignored on a stream.
  assert.deepEqual(Object.keys(ResourceSchema.shape).filter((k) => !(k in changed)), ['type', 'api', 'serve']);
  const users = { userlist: { u: { password: 'p' } } };
  const a = await cfg({ ...users, resources: [STREAM] });
  for (const [key, value] of Object.entries(changed)) {
    const plan = planReload(a, await cfg({ ...users, resources: [{ ...STREAM, [key]: value }] }));
    assert.deepEqual(plan.restart, key === 'authentication' ? [] : ['/a'], key);
  }
});

test('docs/configuration.md lists the top-level keys that restart every stream', async () => {
  const doc = await readFile(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const row = doc.split('\n').find((l) => l.includes('| every stream restarts'));
  assert.ok(row, 'the reload table has a row for keys that restart every stream');
  const listed = [...row.split('|')[1]!.matchAll(/`(\w+)`/g)].map((m) => m[1]);
  assert.deepEqual(listed, keysWhere(ConfigSchema, (m) => m.reload === 'restart'));
});

test('tls: its files and minversion apply on reload; turning it on or off, its listen address or "only" are refused', async () => {
  const tls = { listen: ':8443', cert: 'c.pem', key: 'k.pem' };
  const a = await cfg({ tls, resources: [STREAM] });
  const refusedBy = async (next: Record<string, unknown> | undefined) => planReload(a, await cfg({ tls: next, resources: [STREAM] })).refused.map((r) => r.key);
  assert.deepEqual(await refusedBy({ ...tls, cert: 'new.pem', key: 'new-key.pem', minversion: 'TLSv1.3' }), []);
  assert.deepEqual(await refusedBy({ ...tls, listen: ':https' }), ['tls.listen']);
  // Two spellings of one address are the same socket.
  assert.deepEqual(await refusedBy({ ...tls, listen: '0.0.0.0:8443' }), ['tls.listen']);
  assert.deepEqual(await refusedBy({ ...tls, listen: ':8443', only: true }), ['tls.only']);
  assert.deepEqual(await refusedBy(undefined), ['tls']);
  assert.deepEqual(planReload(a, await cfg({ tls: { ...tls, cert: 'other.pem' }, resources: [STREAM] })).keep, ['/a']);
});
