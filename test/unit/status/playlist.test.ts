import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { buildPlaylist } from '../../../src/status/playlist.js';
import { statusForward } from '../../../src/status/forward.js';
import { TrustedProxies } from '../../../src/status/urls.js';

const none = new TrustedProxies([]);

describe('buildPlaylist', () => {
  it('writes #EXTM3U, then #EXTINF with tvg-name and the absolute URL per stream', () => {
    const text = buildPlaylist({ proto: 'http', host: '[::1]:8000', prefix: '/tv' }, [
      { name: 'News', path: '/news.ts' },
      { name: 'Paid "Movies", HD', path: '/movies hd.ts' },
      { name: 'two\r\nlines', path: '/x.ts' },
    ]);
    assert.equal(text, [
      '#EXTM3U',
      '#EXTINF:-1 tvg-name="News",News',
      'http://[::1]:8000/tv/news.ts',
      '#EXTINF:-1 tvg-name="Paid \'Movies\', HD",Paid "Movies", HD',
      'http://[::1]:8000/tv/movies%20hd.ts',
      '#EXTINF:-1 tvg-name="two lines",two lines',
      'http://[::1]:8000/tv/x.ts',
      '',
    ].join('\n'));
  });
  it('an empty list is just the header', () => {
    assert.equal(buildPlaylist({ proto: 'http', host: 'h', prefix: '' }, []), '#EXTM3U\n');
  });
});

describe('statusForward (multi-process: what a worker passes to the primary)', () => {
  const req = (method: string, url: string, headers: Record<string, string> = {}) =>
    ({ method, url, headers, socket: { remoteAddress: '127.0.0.1' } }) as unknown as IncomingMessage;

  it('re-emits reads in a fixed form, dropping anything else in the query', () => {
    assert.deepEqual(statusForward(req('GET', '/status'), none), { ok: true, method: 'GET', query: '' });
    assert.deepEqual(statusForward(req('GET', '/status?events&x=%0d%0a'), none), { ok: true, method: 'GET', query: 'events' });
    assert.deepEqual(statusForward(req('HEAD', '/status?snapshot'), none), { ok: true, method: 'HEAD', query: 'snapshot' });
    assert.deepEqual(statusForward(req('GET', '/status?asset=mpegts.js'), none), { ok: true, method: 'GET', query: 'asset=mpegts.js' });
    assert.deepEqual(statusForward(req('GET', '/status?asset=../../etc/passwd'), none), { ok: false, status: 404, error: 'not found' });
    assert.equal(statusForward(req('PUT', '/status'), none).ok, false);
  });
  it('turns a same-origin POST action into a GET with a validated, re-encoded query', () => {
    assert.deepEqual(statusForward(req('POST', '/status?action=end&client=c42&junk=1'), none), { ok: true, method: 'GET', query: 'action=end&client=c42' });
    assert.deepEqual(statusForward(req('POST', '/status?action=offline&stream=/a%20b.ts&x', { 'sec-fetch-site': 'same-origin' }), none),
      { ok: true, method: 'GET', query: 'action=offline&stream=%2Fa%20b.ts' });
    assert.equal(statusForward(req('POST', '/status?action=end&client=c1%0d%0aX:1'), none).ok, false);
    assert.equal(statusForward(req('POST', '/status?action=explode'), none).ok, false);
    assert.equal(statusForward(req('POST', '/status?action=online'), none).ok, false);
  });
  it('refuses a cross-site action where it arrives', () => {
    const r = statusForward(req('POST', '/status?action=offline&stream=/x.ts', { 'sec-fetch-site': 'cross-site' }), none);
    assert.deepEqual(r, { ok: false, status: 403, error: 'cross-site request refused (Sec-Fetch-Site: cross-site)' });
    assert.equal(statusForward(req('POST', '/status?action=offline&stream=/x.ts', { origin: 'http://evil.example', host: 'tv:1' }), none).ok, false);
  });
});
