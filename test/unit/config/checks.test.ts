// Config warnings go to the terminal and the log: a URL with credentials in them must
// show no password, whether or not it parses.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
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
