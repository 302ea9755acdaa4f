import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RedirectingGet, MAX_REDIRECTS } from '../../../src/net/get.js';
import { isRestreamerError } from '../../../src/errors.js';

const servers: http.Server[] = [];
after(async () => {
  for (const s of servers) { s.closeAllConnections(); await new Promise((r) => s.close(r)); }
});

async function serve(handler: http.RequestListener): Promise<{ base: string; seen: string[] }> {
  const seen: string[] = [];
  const s = http.createServer((req, res) => { seen.push(req.url!); handler(req, res); });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, seen };
}

/** `instanceof` alone types the generic class's code as any. */

/** The outcome of one GET: the final status and URL, or the error. */
function get(url: string, agent: false | undefined = false): Promise<{ status?: number; url: string; err?: unknown }> {
  return new Promise((resolve) => {
    new RedirectingGet(new URL(url), {
      what: 'upstream', agent, headers: {},
      onResponse: (res, u) => { res.resume(); resolve({ status: res.statusCode!, url: u.href }); },
      onError: (err, u) => resolve({ err, url: u.href }),
    });
  });
}

test('follows relative and absolute redirects; a redirect without Location is the answer', async () => {
  const { base, seen } = await serve((req, res) => {
    if (req.url === '/a') res.writeHead(301, { location: 'b' }).end();
    else if (req.url === '/b') res.writeHead(303, { location: `${base}/c` }).end();
    else if (req.url === '/c') res.writeHead(302).end();
    else res.writeHead(500).end();
  });
  for (const agent of [false, undefined] as const) {
    seen.length = 0;
    const r = await get(`${base}/a`, agent);
    assert.equal(r.status, 302);
    assert.equal(r.url, `${base}/c`);
    assert.deepEqual(seen, ['/a', '/b', '/c']);
  }
});

test(`more than ${MAX_REDIRECTS} redirects, a non-http scheme, an invalid Location: errors`, async () => {
  const { base, seen } = await serve((req, res) => {
    if (req.url!.startsWith('/loop')) res.writeHead(307, { location: `/loop${seen.length}` }).end();
    else if (req.url === '/file') res.writeHead(301, { location: 'file:///etc/passwd' }).end();
    else res.writeHead(302, { location: 'http://[bad' }).end();
  });
  const codeOf = async (path: string) => {
    const r = await get(`${base}${path}`);
    assert.ok(isRestreamerError(r.err), String(r.err));
    return r.err.code;
  };
  assert.equal(await codeOf('/loop'), 'UPSTREAM_TOO_MANY_REDIRECTS');
  assert.equal(seen.length, MAX_REDIRECTS + 1);
  assert.equal(await codeOf('/file'), 'UPSTREAM_UNSUPPORTED');
  assert.equal(await codeOf('/invalid'), 'UPSTREAM_HTTP_STATUS');
});

test('close() ends the request in flight and reports nothing after it', async () => {
  let arrived!: () => void;
  const reached = new Promise<void>((r) => { arrived = r; });
  const closed = new Promise<void>((resolve) => {
    void serve((req) => { arrived(); req.socket.on('close', resolve); }).then(({ base }) => {
      const g = new RedirectingGet(new URL(`${base}/hang`), {
        what: 'upstream', agent: false, headers: {},
        onResponse: () => assert.fail('no answer expected'),
        onError: (e) => assert.fail(`no error expected after close(): ${String(e)}`),
      });
      void reached.then(() => { g.close(); g.close(); });
    });
  });
  await closed; // the server saw its connection closed
});
