// URL building for the playlist and the status page (src/status/urls.ts): which Host and
// X-Forwarded-* values are believed, and URLs that a parser reads back to the same place.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { absoluteUrl, crossSiteReason, encodePath, normaliseHost, relativeUrl, requestBase, TrustedProxies } from '../../../src/status/urls.js';

const none = new TrustedProxies([]);

describe('normaliseHost', () => {
  it('accepts names, IPv4 and bracketed IPv6, with or without a port, lower-cased', () => {
    assert.equal(normaliseHost('Example.COM'), 'example.com');
    assert.equal(normaliseHost('tv.example:8080'), 'tv.example:8080');
    assert.equal(normaliseHost('192.0.2.1:80'), '192.0.2.1:80');
    assert.equal(normaliseHost('[::1]'), '[::1]');
    assert.equal(normaliseHost('[2001:DB8::1]:8443'), '[2001:db8::1]:8443');
    assert.equal(normaliseHost(' localhost '), 'localhost');
  });
  it('refuses what must not land in a URL', () => {
    for (const bad of ['', '::1', '[::1', '[not-ip]:80', '[::1]x', 'a b', 'a"b', 'a/b', 'a@b', 'host:', 'host:99999', 'host:8o', 'h:1:2', '[::1]:', 'a\\b', 'ä.example']) {
      assert.equal(normaliseHost(bad), undefined, JSON.stringify(bad));
    }
    assert.equal(normaliseHost(undefined), undefined);
  });
});

describe('TrustedProxies', () => {
  const t = new TrustedProxies(['127.0.0.2', '10.0.0.0/8', 'fd00::/8', '::1']);
  it('matches addresses and subnets of both families, and IPv4-mapped IPv6', () => {
    assert.equal(t.has('127.0.0.2'), true);
    assert.equal(t.has('::ffff:127.0.0.2'), true);
    assert.equal(t.has('10.200.3.4'), true);
    assert.equal(t.has('::ffff:10.1.1.1'), true);
    assert.equal(t.has('fd12:3456::1'), true);
    assert.equal(t.has('::1'), true);
    assert.equal(t.has('127.0.0.1'), false);
    assert.equal(t.has('11.0.0.1'), false);
    assert.equal(t.has('fe80::1'), false);
    assert.equal(t.has(undefined), false);
    assert.equal(t.has('garbage'), false);
  });
  it('an empty list trusts nobody; a bad entry is refused', () => {
    assert.equal(none.has('127.0.0.1'), false);
    assert.throws(() => new TrustedProxies(['localhost']), /not an IP address/);
  });
});

describe('requestBase', () => {
  const trusted = new TrustedProxies(['127.0.0.2']);
  const fwd = { host: '127.0.0.1:8000', 'x-forwarded-host': 'TV.example, inner.example', 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/tv/' };

  it('uses the Host header over http when the peer is not a trusted proxy', () => {
    assert.deepEqual(requestBase(fwd, '127.0.0.1', trusted), { proto: 'http', host: '127.0.0.1:8000', prefix: '' });
    assert.deepEqual(requestBase(fwd, '127.0.0.2', none), { proto: 'http', host: '127.0.0.1:8000', prefix: '' });
  });
  it('uses X-Forwarded-Host/Proto/Prefix (first value) from a trusted proxy', () => {
    assert.deepEqual(requestBase(fwd, '127.0.0.2', trusted), { proto: 'https', host: 'tv.example', prefix: '/tv' });
    assert.deepEqual(requestBase(fwd, '::ffff:127.0.0.2', trusted), { proto: 'https', host: 'tv.example', prefix: '/tv' });
  });
  it('adds X-Forwarded-Port unless the host has one or it is the default', () => {
    assert.equal(requestBase({ ...fwd, 'x-forwarded-port': '8443' }, '127.0.0.2', trusted)?.host, 'tv.example:8443');
    assert.equal(requestBase({ ...fwd, 'x-forwarded-port': '443' }, '127.0.0.2', trusted)?.host, 'tv.example');
    assert.equal(requestBase({ ...fwd, 'x-forwarded-host': '[2001:db8::5]:9000', 'x-forwarded-port': '1' }, '127.0.0.2', trusted)?.host, '[2001:db8::5]:9000');
  });
  it('ignores forwarded values that are not usable', () => {
    const b = requestBase({ host: 'h:1', 'x-forwarded-host': 'bad host', 'x-forwarded-proto': 'gopher', 'x-forwarded-prefix': 'noslash' }, '127.0.0.2', trusted);
    assert.deepEqual(b, { proto: 'http', host: 'h:1', prefix: '' });
  });
  it('has no base without a valid host', () => {
    assert.equal(requestBase({}, '127.0.0.1', none), undefined);
    assert.equal(requestBase({ host: 'evil"><x' }, '127.0.0.1', none), undefined);
  });
});

describe('URL building', () => {
  it('percent-encodes what a path may not carry, keeping "/" and existing escapes', () => {
    assert.equal(encodePath('/live.ts'), '/live.ts');
    assert.equal(encodePath('/my stream.ts'), '/my%20stream.ts');
    assert.equal(encodePath('/a%20b/c?d#e'), '/a%20b/c%3Fd%23e');
    assert.equal(encodePath('/100%'), '/100%25');
    assert.equal(encodePath('/ü/📺'), '/%C3%BC/%F0%9F%93%BA');
    assert.equal(encodePath("/a'b(c)*!:@,;=+$&~"), "/a'b(c)*!:@,;=+$&~");
    assert.equal(encodePath('/"<>\\^`{|}'), '/%22%3C%3E%5C%5E%60%7B%7C%7D');
  });
  it('absolute URLs: IPv6 hosts, ports, prefixes', () => {
    assert.equal(absoluteUrl({ proto: 'http', host: '[::1]:8080', prefix: '' }, '/live.ts'), 'http://[::1]:8080/live.ts');
    assert.equal(absoluteUrl({ proto: 'https', host: 'tv.example', prefix: '/tv' }, '/a b.ts'), 'https://tv.example/tv/a%20b.ts');
    assert.equal(absoluteUrl({ proto: 'http', host: '192.0.2.1:80', prefix: '' }, '/'), 'http://192.0.2.1:80/');
    // What we build, a URL parser reads back to the same place.
    const u = new URL(absoluteUrl({ proto: 'http', host: '[2001:db8::1]:9', prefix: '/p%20x' }, '/dir/ü ?.ts'));
    assert.equal(u.hostname, '[2001:db8::1]');
    assert.equal(u.port, '9');
    assert.equal(decodeURIComponent(u.pathname), '/p x/dir/ü ?.ts');
    assert.equal(u.search, '');
  });
  it('relative URLs from the page to a stream work under any prefix', () => {
    assert.equal(relativeUrl('/status', '/live.ts'), './live.ts');
    assert.equal(relativeUrl('/admin/status', '/live.ts'), '../live.ts');
    assert.equal(relativeUrl('/a/b/status', '/a/c/x.ts'), '../c/x.ts');
    assert.equal(relativeUrl('/a/status', '/a/x.ts'), './x.ts');
    assert.equal(relativeUrl('/status', '/tv/x.ts'), './tv/x.ts');
    assert.equal(relativeUrl('/status', '/a:b.ts'), './a:b.ts');
    assert.equal(relativeUrl('/status', '/sp ace.ts'), './sp%20ace.ts');
    for (const prefix of ['http://h/', 'http://h/mount/', 'https://h:8443/a/b/']) {
      for (const [from, to] of [['/status', '/live.ts'], ['/admin/status', '/live.ts'], ['/a/b/status', '/a/c/x y.ts'], ['/status', '/a:b.ts']] as const) {
        const page = new URL(from.slice(1), prefix);
        const want = new URL('.' + encodePath(to), prefix);
        assert.equal(new URL(relativeUrl(from, to), page).href, want.href, `${prefix} ${from} -> ${to}`);
      }
    }
  });
});

describe('crossSiteReason', () => {
  const base = { proto: 'http' as const, host: 'tv.example:8000', prefix: '' };
  it('trusts the browser\'s Sec-Fetch-Site', () => {
    assert.equal(crossSiteReason({ 'sec-fetch-site': 'same-origin' }, base), undefined);
    assert.match(crossSiteReason({ 'sec-fetch-site': 'cross-site', origin: 'http://tv.example:8000' }, base)!, /cross-site/);
    assert.match(crossSiteReason({ 'sec-fetch-site': 'same-site' }, base)!, /same-site/);
    assert.match(crossSiteReason({ 'sec-fetch-site': 'none' }, base)!, /none/);
  });
  it('else compares Origin with the host the request was sent to', () => {
    assert.equal(crossSiteReason({ origin: 'http://tv.example:8000', host: 'tv.example:8000' }, base), undefined);
    assert.equal(crossSiteReason({ origin: 'https://TV.example:8000', host: 'x' }, base), undefined);
    assert.match(crossSiteReason({ origin: 'http://evil.example', host: 'tv.example:8000' }, base)!, /evil/);
    assert.match(crossSiteReason({ origin: 'null', host: 'tv.example:8000' }, base)!, /null/);
  });
  it('lets non-browser clients (neither header) through', () => {
    assert.equal(crossSiteReason({ host: 'tv.example:8000' }, base), undefined);
  });
});
