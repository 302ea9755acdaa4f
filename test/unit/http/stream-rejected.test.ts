// A stream request that cannot be served (offline, connection limit) is answered as the
// original does (404, stream headers, no body) and logged with its catalogue code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/log/logger.js';
import { StreamEndpoint } from '../../../src/http/stream.js';
import type { StreamState, AdmissionGate } from '../../../src/stream/contracts.js';

async function rejected(available: boolean, gate: AdmissionGate): Promise<{ status: number; type: string | undefined; body: string; line: Record<string, unknown> | undefined }> {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); cb(); } });
  const log = createLogger({ stream: sink, level: 'debug' }).logger;
  // The hub is never reached by a rejected request.
  const stream = {
    name: '/a.ts', hub: undefined, available, ondemand: false,
    demand: () => Promise.resolve(false), viewerJoined: () => {}, viewerLeft: () => {},
  } as unknown as StreamState;
  const ep = new StreamEndpoint({ stream, admission: gate, log });
  const server = http.createServer((req, res) => ep.handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/a.ts`);
    const body = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? undefined, body, line: lines.find((l) => l.evt === 'client_rejected') };
  } finally {
    await new Promise((r) => server.close(r));
  }
}

test('offline: 404 with the stream headers, logged as STREAM_OFFLINE', async () => {
  const r = await rejected(false, { acquire: () => true, release: () => {} });
  assert.equal(r.status, 404);
  assert.equal(r.type, 'video/mpeg');
  assert.equal(r.body, '');
  assert.equal(r.line?.code, 'STREAM_OFFLINE');
  assert.equal(r.line.reason, 'offline');
});

test('connection limit: 404 with the stream headers, logged as LIMIT_REACHED', async () => {
  const r = await rejected(true, { acquire: () => false, release: () => {} });
  assert.equal(r.status, 404);
  assert.equal(r.type, 'video/mpeg');
  assert.equal(r.body, '');
  assert.equal(r.line?.code, 'LIMIT_REACHED');
  assert.equal(r.line.reason, 'limit');
});
