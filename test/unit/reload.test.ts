import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
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
