import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { multicastInterface, parseDatagramUrl, validateDatagramUrl } from '../../../src/sources/multicast.js';
import { isRestreamerError } from '../../../src/errors.js';

const parse = (u: string) => parseDatagramUrl(new URL(u));
const v = (u: string) => validateDatagramUrl(new URL(u));

test('the three addressing forms: unicast bind, any-source group, source-specific group', () => {
  assert.deepEqual(parse('udp://0.0.0.0:5000'), { host: '0.0.0.0', port: 5000, family: 4, multicast: false, source: undefined });
  assert.deepEqual(parse('udp://239.1.1.1:5000'), { host: '239.1.1.1', port: 5000, family: 4, multicast: true, source: undefined });
  assert.deepEqual(parse('rtp://10.0.0.1@232.1.1.1:1234'), { host: '232.1.1.1', port: 1234, family: 4, multicast: true, source: '10.0.0.1' });
  // IPv6 in brackets; an IPv6 source percent-encoded in the user part.
  assert.deepEqual(parse('udp://[ff15::1]:5000'), { host: 'ff15::1', port: 5000, family: 6, multicast: true, source: undefined });
  assert.deepEqual(parse('udp://2001%3Adb8%3A%3A1@[ff3e::1]:5000'), { host: 'ff3e::1', port: 5000, family: 6, multicast: true, source: '2001:db8::1' });
  assert.deepEqual(parse('udp://[::1]:5000'), { host: '::1', port: 5000, family: 6, multicast: false, source: undefined });
  // A host name binds where it resolves (family 4 by default); never a group.
  assert.deepEqual(parse('udp://localhost:5000'), { host: 'localhost', port: 5000, family: 4, multicast: false, source: undefined });
  // The multicast range is 224-239 (IPv4) and ff00::/8 (IPv6), nothing either side.
  assert.equal(parse('udp://224.0.0.1:1').multicast, true);
  assert.equal(parse('udp://223.255.255.255:1').multicast, false);
  assert.equal(parse('udp://240.0.0.1:1').multicast, false);
  assert.equal(parse('udp://[fe80::1]:1').multicast, false);
});

test('what cannot work is refused with a message naming the forms', () => {
  assert.match(v('udp://239.1.1.1')!, /needs a port: udp:\/\/host:port, udp:\/\/GROUP:PORT or udp:\/\/SOURCE@GROUP:PORT/);
  assert.match(v('rtp:///x')!, /needs an address: rtp:\/\/host:port/);
  assert.match(v('udp://127.0.0.1@10.1.1.1:5000')!, /"127.0.0.1@10.1.1.1": a source \(SSM\) needs a multicast group address after the @/);
  assert.match(v('udp://239.1.1.2@239.1.1.1:5000')!, /SSM source "239.1.1.2" is a multicast address; write SOURCE@GROUP:PORT/);
  assert.match(v('udp://u:p@239.1.1.1:5000')!, /a password has no meaning here/);
  assert.match(v('rtp://1.2.3.4@[ff3e::1]:5000')!, /SSM source "1.2.3.4" must be an IPv6 address, like the group ff3e::1/);
  assert.match(v('udp://2001%3Adb8%3A%3A1@232.1.1.1:5000')!, /must be an IPv4 address/);
  assert.equal(v('udp://127.0.0.1@232.1.1.1:5000'), undefined);
  // The URL parser already refuses ports above 65535; 0 is ours to refuse.
  assert.match(v('udp://127.0.0.1:0')!, /port must be 1\.\.65535, got 0/);
  assert.throws(() => parse('udp://239.1.1.1'), /needs a port/);
});

test('clientinterface: an interface name resolves to its IPv4 address (IPv6: its scope)', () => {
  assert.equal(multicastInterface('lo', 4), '127.0.0.1');
  assert.equal(multicastInterface('lo', 6), '::%lo');
  assert.equal(multicastInterface('127.0.0.1', 4), '127.0.0.1');
  assert.equal(multicastInterface('::1', 6), '::1');
  assert.equal(multicastInterface(undefined, 4), undefined);
  assert.equal(multicastInterface('', 6), undefined);
});

test('clientinterface errors are UPSTREAM_INTERFACE and say what is available', () => {
  const code = (f: () => unknown, re: RegExp) => assert.throws(f, (e) => isRestreamerError(e) && e.code === 'UPSTREAM_INTERFACE' && re.test(e.message));
  code(() => multicastInterface('nosuchif0', 4), new RegExp(`"nosuchif0": no such network interface \\(available: .*${Object.keys(os.networkInterfaces())[0]}`));
  code(() => multicastInterface('127.0.0.1', 6), /clientinterface 127.0.0.1 is not an IPv6 address/);
  code(() => multicastInterface('::1', 4), /is not an IPv4 address/);
  // An interface without an IPv4 address cannot join an IPv4 group.
  const v6only = Object.entries(os.networkInterfaces()).find(([, a]) => a && !a.some((x) => x.family === 'IPv4'));
  if (v6only) code(() => multicastInterface(v6only[0], 4), /has no IPv4 address/);
});
