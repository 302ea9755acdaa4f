import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RestreamerError } from '../../../src/errors.js';
import { parseListen } from '../../../src/config/listen.js';

describe('parseListen', () => {
  let services: string;
  before(async () => {
    services = join(await mkdtemp(join(tmpdir(), 'restreamer-services-')), 'services');
    await writeFile(services, '# comment\nftp\t\t21/tcp\nmystream\t4321/tcp\tmyalias  # note\nudponly\t999/udp\n');
  });
  after(async () => { await rm(join(services, '..'), { recursive: true, force: true }); });

  const ok: [string, string | undefined, number][] = [
    ['localhost:8000', 'localhost', 8000],
    [':8000', undefined, 8000],
    ['[::1]:8000', '::1', 8000],
    ['[::]:80', '::', 80],
    ['127.0.0.1:8080', '127.0.0.1', 8080],
    ['0.0.0.0:0', '0.0.0.0', 0],
    ['127.0.0.1:', '127.0.0.1', 0],
    [':http', undefined, 80],
    [':https', undefined, 443],
    [':http-alt', undefined, 8080],
    ['localhost:http', 'localhost', 80],
    ['my-host.example.net:HTTP', 'my-host.example.net', 80],
    ['[::1]:', '::1', 0],
    [':65535', undefined, 65535],
    ['_svc.local:1', '_svc.local', 1],
  ];
  for (const [text, host, port] of ok) {
    it(`"${text}" -> ${host ?? '(all)'}:${port}`, () => assert.deepEqual(parseListen(text), { host, port }));
  }

  it('reads other service names and aliases from a services file (tcp only)', () => {
    assert.deepEqual(parseListen(':mystream', services), { host: undefined, port: 4321 });
    assert.deepEqual(parseListen('localhost:myalias', services), { host: 'localhost', port: 4321 });
    assert.deepEqual(parseListen(':ftp', services), { host: undefined, port: 21 });
    assert.throws(() => parseListen(':udponly', services), /unknown service name "udponly"/);
    assert.deepEqual(parseListen(':http', join(services, 'missing')), { host: undefined, port: 80 });
  });

  const bad: [string, RegExp][] = [
    ['localhost', /missing ":port"/],
    ['', /missing ":port"/],
    ['::1:80', /IPv6 address needs brackets/],
    [':99999', /out of range/],
    [':nosuchservice', /unknown service name "nosuchservice"/],
    ['[::1]80', /missing ":port" after "]"/],
    ['[::1:80', /missing "]"/],
    ['[nothost]:80', /not an IPv6 address/],
    ['bad host:80', /not a valid host name/],
    ['-host:80', /not a valid host name/],
    [':65536', /port 65536 is out of range \(0-65535\)/],
  ];
  for (const [text, why] of bad) {
    it(`rejects "${text}"`, () => {
      assert.throws(() => parseListen(text, services), (e: unknown) => {
        assert.ok(e instanceof RestreamerError);
        assert.equal(e.code, 'CONFIG_INVALID');
        assert.match(e.message, why);
        return true;
      });
    });
  }
});

describe('parseListen messages', () => {
  it('name the address, the reason and what is expected', () => {
    assert.throws(() => parseListen('localhost'), {
      message: 'invalid listen address "localhost": missing ":port"; expected "host:port", ":port", "[::1]:port" or a service name such as ":http"',
    });
  });
});
