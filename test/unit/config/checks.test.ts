// Config warnings go to the terminal and the log: a URL with credentials in them must
// show no password, whether or not it parses.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { byDocumentOrder } from '../../../src/config/checks.js';
import { parseConfig, type ConfigIssue } from '../../../src/config/load.js';

async function warningsFor(cfg: unknown): Promise<ConfigIssue[]> {
  const warnings: ConfigIssue[] = [];
  await parseConfig(JSON.stringify(cfg), '/', { onWarning: (w) => warnings.push(w) });
  return warnings;
}

const stream = (remotes: string[]) => ({ resources: [{ type: 'stream', serve: '/live.ts', remotes: [...remotes, 'http://127.0.0.1:9000/ok.ts'] }] });

describe('config warnings hide passwords in URLs', () => {
  const cases: [string, string, RegExp][] = [
    ['unknown scheme', 'gopher://alice:s3cret-pw@127.0.0.1/x', /unknown upstream scheme "gopher"/],
    ['not a URL', 'http://alice:s3cret-pw@[not-a-host/x', /is not a valid URL/],
    ['invalid for its kind', 'udp://alice:s3cret-pw@127.0.0.1/', /invalid udp upstream/],
  ];
  for (const [what, url, text] of cases) {
    it(`upstream: ${what}`, async () => {
      const ws = (await warningsFor(stream([url]))).filter((w) => w.path === 'resources[0].remotes[0]');
      assert.equal(ws.length, 1, `one warning for the remote: ${JSON.stringify(ws)}`);
      assert.match(ws[0]!.message, text);
      assert.ok(!ws[0]!.message.includes('s3cret-pw'), `no password in: ${ws[0]!.message}`);
      assert.ok(ws[0]!.message.includes('alice'), 'the user name stays, so the remote can be found');
    });
  }
  it('notification URL', async () => {
    const ws = await warningsFor({ resources: [], notifications: [{ event: 'limit_hit', type: 'url', url: 'ftp://alice:s3cret-pw@127.0.0.1/x' }] });
    const w = ws.find((x) => x.path === 'notifications[0].url');
    assert.ok(w, `a warning for the notification: ${JSON.stringify(ws)}`);
    assert.ok(!w.message.includes('s3cret-pw'), `no password in: ${w.message}`);
  });
});

describe('byDocumentOrder', () => {
  it('top-level keys, then resources, then notifications, each by index however large', () => {
    const paths = ['notifications[0].url', 'resources[10].serve', 'resources[2000000000].remote', 'heartbeatinterval', 'resources[2]', 'notifications[3]', 'resources', 'resources[2].preamble'];
    const sorted = paths.map((path) => ({ path, message: '' })).sort(byDocumentOrder).map((i) => i.path);
    assert.deepEqual(sorted, ['heartbeatinterval', 'resources', 'resources[2]', 'resources[2].preamble', 'resources[10].serve', 'resources[2000000000].remote', 'notifications[0].url', 'notifications[3]']);
  });
});

describe('checkConfig', () => {
  it('reports preamble warnings in document order, whenever each check finishes', async () => {
    const stream = (serve: string, preamble: string) => ({ type: 'stream', serve, remote: 'http://127.0.0.1:9000/a.ts', preamble });
    const ws = await warningsFor({ resources: [stream('/a', 'missing-a'), stream('/b', '/'), stream('/c', 'missing-c')], notifications: [{ event: 'limit_hit', url: 'ftp://x/' }] });
    assert.deepEqual(ws.map((w) => w.path), ['resources[0].preamble', 'resources[1].preamble', 'resources[2].preamble', 'notifications[0].url']);
    assert.match(ws[1]!.message, /cannot use preamble file "\/": not a regular file; the stream is served without a preamble/);
  });
});

describe('tls', () => {
  const tls = { listen: ':8443', cert: 'certs/fullchain.pem', key: '/etc/ssl/key.pem' };
  it('cert and key become absolute paths, relative ones against the config file\'s folder', async () => {
    const c = await parseConfig(JSON.stringify({ tls }), '/etc/restreamer');
    assert.deepEqual(c.tls, { ...tls, cert: '/etc/restreamer/certs/fullchain.pem', minversion: 'TLSv1.2', only: false });
  });
  it('tls.listen on the port of listen is refused, unless only HTTPS is served', async () => {
    await assert.rejects(parseConfig(JSON.stringify({ listen: ':8443', tls }), '/'), /tls\.listen: ":8443" takes the port of "listen" \(":8443"\)/);
    await assert.rejects(parseConfig(JSON.stringify({ listen: '127.0.0.1:8443', tls }), '/'), /takes the port of "listen"/);
    assert.equal((await parseConfig(JSON.stringify({ listen: ':8443', tls: { ...tls, only: true } }), '/')).tls?.only, true);
    assert.equal((await parseConfig(JSON.stringify({ listen: '127.0.0.1:8443', tls: { ...tls, listen: '127.0.0.2:8443' } }), '/')).tls?.listen, '127.0.0.2:8443');
  });
  it('a listen address it cannot read, a missing file name, an unknown minversion are refused', async () => {
    await assert.rejects(parseConfig(JSON.stringify({ tls: { ...tls, listen: '8443' } }), '/'), /tls\.listen: invalid listen address "8443"/);
    await assert.rejects(parseConfig(JSON.stringify({ tls: { listen: ':8443', cert: 'c.pem' } }), '/'), /tls\.key: missing/);
    await assert.rejects(parseConfig(JSON.stringify({ tls: { ...tls, minversion: 'TLSv1.1' } }), '/'), /tls\.minversion: unknown value "TLSv1.1"/);
  });
});

describe('hls', () => {
  const errorsFor = async (cfg: unknown): Promise<ConfigIssue[]> => {
    try {
      await parseConfig(JSON.stringify(cfg), '/');
      return [];
    } catch (e) {
      return (e as { issues: ConfigIssue[] }).issues;
    }
  };
  const news = { type: 'stream', serve: '/news.ts', hls: '/news.m3u8', remote: 'http://127.0.0.1:9000/a.ts' };
  const other = (serve: string) => ({ type: 'static', serve, remote: 'file:///etc/hostname' });

  it('accepts an hls path of its own, with the defaults, beside a subtree around it', async () => {
    const cfg = await parseConfig(JSON.stringify({ resources: [news, other('/')] }), '/');
    assert.equal(cfg.resources[0]!.hlssegment, 2);
    assert.equal(cfg.resources[0]!.hlswindow, 6);
  });

  for (const serve of ['/news.m3u8', '/news.m3u8/', '/news.m3u8/x.ts']) {
    it(`refuses an hls path colliding with another resource's serve ${serve}`, async () => {
      const errs = await errorsFor({ resources: [news, other(serve)] });
      assert.deepEqual(errs.map((e) => e.path), ['resources[0].hls']);
      assert.match(errs[0]!.message, /collides with .* of resources\[1\]/);
    });
  }

  it('refuses hls on a stream\'s own serve path, on a non-stream, and with workers ≥ 2', async () => {
    assert.match((await errorsFor({ resources: [{ ...news, hls: '/news.ts' }] }))[0]!.message, /this stream's serve path/);
    assert.match((await errorsFor({ resources: [{ ...other('/x'), hls: '/x.m3u8' }] }))[0]!.message, /only a stream resource/);
    const w = await errorsFor({ workers: 2, resources: [news] });
    assert.equal(w[0]!.message, 'hls is not yet supported with workers ≥ 2 (docs/hls.md): set "workers" to 0 or 1');
  });
});
