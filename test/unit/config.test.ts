import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RestreamerError } from '../../src/errors.js';
import { configJsonSchema, configJsonSchemaText } from '../../src/config/jsonschema.js';
import { findJsonError } from '../../src/config/jsonpos.js';
import { parseListen } from '../../src/config/listen.js';
import { ConfigError, formatPath, loadConfig, parseConfig, type ConfigIssue } from '../../src/config/load.js';
import { authUsers, resourceUpstreams } from '../../src/config/schema.js';
import { closest, editDistance } from '../../src/config/suggest.js';
import { knownSchemes } from '../../src/sources/registry.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = join(root, 'test/fixtures/config');
const STREAM = { type: 'stream', serve: '/live.ts', remote: 'http://127.0.0.1:9000/live.ts' };

async function configError(p: Promise<unknown>): Promise<ConfigError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.ok(e instanceof RestreamerError);
    return e;
  }
  assert.fail('expected the configuration to be rejected');
}

/** The error names `path` with a message containing `text`, both in `issues` and in the message. */
function assertIssue(e: ConfigError, path: string, text: string | RegExp): void {
  const hit = e.issues.find((i) => i.path === path && (typeof text === 'string' ? i.message.includes(text) : text.test(i.message)));
  assert.ok(hit, `no issue at ${path} matching ${String(text)}; got:\n${e.message}`);
  assert.ok(e.message.includes(path ? `${path}: ${hit.message}` : hit.message), e.message);
}

describe('defaults', () => {
  it('equal the original restreamer defaults', async () => {
    const c = await parseConfig('{}', '/');
    assert.deepEqual(c, {
      listen: 'localhost:http', timeout: 0, reconnect: 10, readtimeout: 0, inputbuffer: 1000, outputbuffer: 400,
      maxconnections: 0, fullconnections: 0, nostats: false, profile: false, heartbeatinterval: 60, log: '',
      batchms: 20, batchmaxms: null, userlist: {}, resources: [], notifications: [],
      // restreamer additions
      workers: 0, grace: null, slowtimeout: 60, trustedproxies: [],
    });
  });

  it('fill resource, authentication and notification keys', async () => {
    const c = await parseConfig(JSON.stringify({
      resources: [{ ...STREAM, authentication: {} }],
      notifications: [{ event: 'heartbeat', url: 'http://127.0.0.1:9/x' }],
    }), '/');
    const r = c.resources[0]!;
    assert.deepEqual({ ...r, authentication: undefined }, {
      ...STREAM, remotes: [], cache: 0, mru: 1500, clientinterface: '', preamble: '', authentication: undefined,
      rtpreorder: 8, start: 'keyframe', ondemand: false, linger: 10,
    });
    assert.deepEqual(r.authentication, { type: '', realm: '', users: [] });
    assert.equal(c.notifications[0]!.type, 'url');
  });

  it('treat null as "use the default", as the original did', async () => {
    const c = await parseConfig(JSON.stringify({ listen: null, reconnect: null, resources: [{ ...STREAM, remotes: null }] }), '/');
    assert.equal(c.listen, 'localhost:http');
    assert.equal(c.reconnect, 10);
    assert.deepEqual(c.resources[0]!.remotes, []);
  });
});

describe('comments', () => {
  it('accepts "" keys at every depth, repeated', async () => {
    const text = `{
      "": "top", "": "top again",
      "listen": ":8000",
      "userlist": { "": "users", "alice": { "": "her", "password": "a" } },
      "resources": [
        { "": "a stream", "type": "stream", "serve": "/live.ts", "": 1, "remote": "http://127.0.0.1:1/x",
          "authentication": { "": ["any", "value"], "type": "basic", "user": "alice" } }
      ],
      "notifications": [ { "": {"nested": true}, "event": "limit_hit", "url": "http://127.0.0.1:1/hit",
          "authentication": { "": null, "type": "basic", "user": "alice" } } ]
    }`;
    const c = await parseConfig(text, '/');
    assert.deepEqual(Object.keys(c.userlist), ['alice']);
    assert.equal(c.resources[0]!.authentication!.user, 'alice');
    assert.ok(!('' in c) && !('' in c.resources[0]!) && !('' in c.userlist.alice!));
  });

  it('"$schema" for editors is accepted', async () => {
    await parseConfig('{"$schema": "./restreamer.schema.json"}', '/');
  });
});

describe('keys differing only in case', () => {
  it('are read as the original did, with a warning', async () => {
    const warnings: ConfigIssue[] = [];
    const c = await parseConfig(JSON.stringify({ Listen: ':9000', resources: [{ ...STREAM, ReadTimeout: undefined, Remotes: ['http://127.0.0.1:2/x'] }] }), '/', { onWarning: (w) => warnings.push(w) });
    assert.equal(c.listen, ':9000');
    assert.deepEqual(resourceUpstreams(c.resources[0]!), ['http://127.0.0.1:9000/live.ts', 'http://127.0.0.1:2/x']);
    assert.deepEqual(warnings.map((w) => w.path), ['Listen', 'resources[0].Remotes']);
    assert.match(warnings[0]!.message, /"listen"/);
  });
});

describe('errors name the path', () => {
  const cases: [file: string, path: string, text: string | RegExp][] = [
    ['bad-json-trailing-comma.json', '', /invalid JSON at line 5, column 3: .*trailing comma/],
    ['bad-json-missing-comma.json', '', /invalid JSON at line 3, column 3: expected "," or "}"/],
    ['bad-not-object.json', '', 'expected a JSON object'],
    ['bad-unknown-key.json', 'resources[0].remtoe', 'unknown key (did you mean "remote"?)'],
    ['bad-unknown-top-key.json', 'maxconections', 'unknown key (did you mean "maxconnections"?)'],
    ['bad-wrong-type.json', 'timeout', 'expected a number, got a string ("5")'],
    ['bad-resource-type.json', 'resources[0].type', /unknown resource type "strem" \(did you mean "stream"\?\); expected one of "stream", "static", "api"/],
    ['bad-api-type.json', 'resources[0].api', /unknown api type "helth" \(did you mean "health"\?\)/],
    ['bad-api-missing.json', 'resources[0].api', 'needs "api"'],
    ['bad-stream-no-remote.json', 'resources[0].remote', 'a stream needs an upstream'],
    ['bad-unknown-user.json', 'resources[0].authentication.user', 'user "bob" is not in userlist (known users: alice)'],
    ['bad-unknown-users-entry.json', 'resources[0].authentication.users[1]', 'user "carol" is not in userlist'],
    ['bad-notification-user.json', 'notifications[0].authentication.user', 'user "dave" is not in userlist'],
    ['bad-notification-url.json', 'notifications[0].url', 'is not an http:// or https:// URL'],
    ['bad-check-remote.json', 'resources[1].remote', '"/other.ts" is not the serve path of a stream resource (stream paths: /live.ts)'],
    ['bad-control-no-remote.json', 'resources[1].remote', 'missing: a control API names the serve path'],
    ['bad-preamble-missing.json', 'resources[0].preamble', /does-not-exist\.ts": no such file/],
    ['bad-preamble-directory.json', 'resources[0].preamble', 'not a regular file'],
    ['bad-duplicate-serve.json', 'resources[1].serve', '"/live.ts" is already served by resources[0]'],
    ['bad-upstream-scheme.json', 'resources[0].remote', 'unknown upstream scheme "gopher"'],
    ['bad-upstream-url.json', 'resources[0].remotes[0]', '"not a url" is not a valid URL'],
    ['bad-static-scheme.json', 'resources[0].remote', 'a static resource cannot fetch from "tcp" URLs'],
    ['bad-listen.json', 'listen', 'invalid listen address "localhost": missing ":port"'],
    ['bad-serve-path.json', 'resources[0].serve', '"live.ts" must start with "/" (e.g. "/live.ts")'],
  ];
  for (const [file, path, text] of cases) {
    it(`${file} -> ${path || '(file)'}`, async () => {
      const e = await configError(loadConfig(join(fixtures, file)));
      assert.equal(e.code, 'CONFIG_INVALID');
      assertIssue(e, path, text);
      assert.ok(e.message.includes(join(fixtures, file)), 'message names the file');
    });
  }

  it('every fixture in test/fixtures/config is rejected', async () => {
    const { readdir } = await import('node:fs/promises');
    const files = (await readdir(fixtures)).filter((f) => f.endsWith('.json'));
    assert.deepEqual(files.sort(), cases.map((c) => c[0]).sort(), 'each fixture has a case above');
  });

  it('reports several problems at once, in order', async () => {
    const e = await configError(parseConfig(JSON.stringify({
      listen: ':99999', inputbuffer: 1.5, maxconnections: -1, nostats: 'yes', userlist: { a: { pass: 'x' } },
      resources: [{ type: 'stream' }],
    }), '/'));
    assert.deepEqual(e.issues.map((i) => i.path), [
      'listen', 'inputbuffer', 'maxconnections', 'nostats', 'userlist.a.password', 'userlist.a.pass', 'resources[0].serve',
    ]);
    assertIssue(e, 'inputbuffer', 'expected an integer, got a number (1.5)');
    assertIssue(e, 'maxconnections', 'expected at least 0');
    assertIssue(e, 'resources[0].serve', 'missing; expected a string');
    assertIssue(e, 'userlist.a.pass', 'unknown key (did you mean "password"?)');
  });

  it('a far-off unknown key lists the known keys', async () => {
    const e = await configError(parseConfig('{"zzzzzz": 1}', '/'));
    assertIssue(e, 'zzzzzz', /unknown key \(known keys: .*listen.*resources/);
  });

  it('an upstream kind rejects its own bad URLs (tcp needs a port)', async () => {
    const e = await configError(parseConfig(JSON.stringify({ resources: [{ ...STREAM, remote: 'tcp://127.0.0.1' }] }), '/'));
    assertIssue(e, 'resources[0].remote', /invalid tcp upstream "tcp:\/\/127.0.0.1": .*port/);
  });

  it('unreadable files are CONFIG_UNREADABLE', async () => {
    const missing = await configError(loadConfig(join(fixtures, 'no-such-file.json')));
    assert.equal(missing.code, 'CONFIG_UNREADABLE');
    assert.match(missing.message, /no-such-file\.json: no such file/);
    const dir = await configError(loadConfig(fixtures));
    assert.equal(dir.code, 'CONFIG_UNREADABLE');
  });
});

describe('accepted configurations', () => {
  let tmp: string;
  before(async () => { tmp = await mkdtemp(join(tmpdir(), 'restreamer-config-')); });
  after(async () => { await rm(tmp, { recursive: true, force: true }); });

  it('http upstreams, check/control on a stream, users, static and notifications', async () => {
    assert.ok(knownSchemes().includes('http'), 'the http kind is registered');
    const c = await parseConfig(JSON.stringify({
      userlist: { alice: { password: 'a' }, bob: { password: 'b' } },
      resources: [
        { ...STREAM, remotes: ['https://127.0.0.1/x.ts'], authentication: { type: 'basic', user: 'alice', users: ['bob', 'alice'] } },
        { type: 'api', api: 'check', serve: '/check', remote: '/live.ts' },
        { type: 'api', api: 'control', serve: '/control', remote: '/live.ts' },
        { type: 'static', serve: '/index.html', remote: 'file:///etc/hostname', cache: 10 },
      ],
      notifications: [{ event: 'limit_hit', url: 'https://127.0.0.1/hit', authentication: { type: 'bearer', user: 'bob' } }],
    }), '/');
    assert.deepEqual(authUsers(c.resources[0]!.authentication), ['alice', 'bob']);
    assert.deepEqual(resourceUpstreams(c.resources[0]!), ['http://127.0.0.1:9000/live.ts', 'https://127.0.0.1/x.ts']);
  });

  it('resolves a relative preamble against the config directory and keeps the absolute path', async () => {
    await mkdir(join(tmp, 'media'));
    await writeFile(join(tmp, 'media', 'intro.ts'), Buffer.alloc(188, 0x47));
    const file = join(tmp, 'restreamer.json');
    await writeFile(file, JSON.stringify({ resources: [{ ...STREAM, preamble: 'media/intro.ts' }] }));
    const c = await loadConfig(file);
    assert.equal(c.resources[0]!.preamble, join(tmp, 'media', 'intro.ts'));
    const viaText = await parseConfig(await readFile(file, 'utf8'), tmp);
    assert.equal(viaText.resources[0]!.preamble, join(tmp, 'media', 'intro.ts'));
  });

  it('allows fullconnections above maxconnections, with a warning', async () => {
    const warnings: ConfigIssue[] = [];
    const c = await parseConfig('{"maxconnections": 10, "fullconnections": 20}', '/', { onWarning: (w) => warnings.push(w) });
    assert.equal(c.fullconnections, 20);
    assert.deepEqual(warnings.map((w) => w.path), ['fullconnections']);
  });

  it('warns about an unknown authentication type (it denies everyone)', async () => {
    const warnings: ConfigIssue[] = [];
    await parseConfig(JSON.stringify({ resources: [{ ...STREAM, authentication: { type: 'Basic' } }] }), '/', { onWarning: (w) => warnings.push(w) });
    assert.equal(warnings[0]?.path, 'resources[0].authentication.type');
    assert.match(warnings[0]!.message, /did you mean "basic"/);
  });

  it('strips a UTF-8 byte order mark', async () => {
    await parseConfig('\ufeff{"listen": ":8000"}', '/');
  });

  for (const example of ['examples/minimal/restreamer.json', 'examples/documented/restreamer.json']) {
    it(`${example} loads`, async () => {
      const warnings: ConfigIssue[] = [];
      const c = await loadConfig(join(root, example), { onWarning: (w) => warnings.push(w) });
      assert.equal(c.listen, ':8000');
      assert.ok(c.resources.some((r) => r.type === 'stream'));
      assert.deepEqual(warnings, []);
    });
  }

  it('the documented example sets every key of the schema', async () => {
    const doc = JSON.parse(await readFile(join(root, 'examples/documented/restreamer.json'), 'utf8')) as Record<string, unknown>;
    const schema = configJsonSchema() as { properties: Record<string, unknown> };
    for (const key of Object.keys(schema.properties)) assert.ok(key in doc, `documented example lacks "${key}"`);
  });
});

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

describe('suggestions', () => {
  it('edit distance counts a transposition as one edit', () => {
    assert.equal(editDistance('remtoe', 'remote'), 1);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('same', 'same'), 0);
  });
  it('suggests only close candidates, ignoring case', () => {
    const keys = ['listen', 'timeout', 'readtimeout', 'remote', 'remotes'];
    assert.equal(closest('remtoe', keys), 'remote');
    assert.equal(closest('Timout', keys), 'timeout');
    assert.equal(closest('read_timeout', keys), 'readtimeout');
    assert.equal(closest('banana', keys), undefined);
    assert.equal(closest('xy', keys), undefined);
    assert.equal(closest('pass', ['password']), 'password');
    assert.equal(closest('readtimeoutseconds', keys), 'readtimeout');
  });
});

describe('helpers', () => {
  it('formatPath', () => {
    assert.equal(formatPath(['resources', 0, 'authentication', 'users', 2]), 'resources[0].authentication.users[2]');
    assert.equal(formatPath(['userlist', 'bob smith', 'password']), 'userlist["bob smith"].password');
    assert.equal(formatPath([]), '');
  });
  it('findJsonError locates problems and accepts valid JSON', () => {
    assert.equal(findJsonError('{"a": [1, -2.5e3, true, null, "x\\n\\u00e9"]}'), undefined);
    assert.deepEqual(findJsonError('{\n  "a": 1,\n  b: 2\n}'), { offset: 14, line: 3, column: 3, message: 'expected a double-quoted key, found "b"' });
    assert.match(findJsonError('{"a": "x')!.message, /unterminated string/);
    assert.match(findJsonError('{"a": 1} x')!.message, /after the end/);
    assert.match(findJsonError('')!.message, /unexpected end of input/);
    assert.match(findJsonError('{"a": 01}')!.message, /expected "," or "}"/);
  });
});

describe('restreamer.schema.json', () => {
  it('is what npm run schema generates now', async () => {
    const committed = await readFile(join(root, 'restreamer.schema.json'), 'utf8');
    assert.equal(committed, configJsonSchemaText(), 'restreamer.schema.json is stale: run "npm run schema"');
  });
  it('lets "" comment keys through every object and keeps descriptions and defaults', () => {
    const schema = configJsonSchema();
    let objects = 0;
    const walk = (n: unknown, path: string): void => {
      if (Array.isArray(n)) return n.forEach((v, i) => walk(v, `${path}[${i}]`));
      if (n === null || typeof n !== 'object') return;
      const o = n as Record<string, unknown>;
      if (o.type === 'object') {
        objects++;
        assert.ok((o.patternProperties as Record<string, unknown> | undefined)?.['^$'], `${path} does not allow "" keys`);
      }
      if (o.properties) {
        for (const [k, v] of Object.entries(o.properties as Record<string, Record<string, unknown>>)) {
          assert.ok(typeof v.description === 'string', `${path}.${k} has no description`);
        }
      }
      for (const [k, v] of Object.entries(o)) walk(v, `${path}/${k}`);
    };
    walk(schema, '#');
    assert.ok(objects >= 6);
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal((schema as { properties: { reconnect: { default: number } } }).properties.reconnect.default, 10);
  });
});
