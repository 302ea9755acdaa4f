import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RestreamerError } from '../../../src/errors.js';
import { configJsonSchema, configJsonSchemaText } from '../../../src/config/jsonschema.js';
import { ConfigError, loadConfig, parseConfig, type ConfigIssue } from '../../../src/config/load.js';
import { authUsers, resourceUpstreams, type Config } from '../../../src/config/schema.js';
import { closest, editDistance } from '../../../src/config/suggest.js';
import { knownSchemes } from '../../../src/sources/registry.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
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
    assert.deepEqual({ ...c, userlist: { ...c.userlist } }, {
      listen: 'localhost:http', timeout: 0, reconnect: 10, readtimeout: 0, inputbuffer: 1000, outputbuffer: 400,
      maxconnections: 0, fullconnections: 0, nostats: false, profile: false, heartbeatinterval: 60, log: '',
      batchms: 20, batchmaxms: null, userlist: {}, resources: [], notifications: [],
      // restreamer additions
      workers: 0, grace: null, slowtimeout: 60, drain: 0, trustedproxies: [],
      authfailures: 10, authwindow: 60, authblock: 60,
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
      failover: 'connection', failoveron: [], pidtimeout: 2, pcrinterval: 100, alarmclear: 5, alarmtime: 2, hlssegment: 2, hlswindow: 6,
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

/** Load `p` collecting warnings; the configuration must load. */
async function withWarnings<T>(p: (onWarning: (w: ConfigIssue) => void) => Promise<T>): Promise<{ value: T; warnings: ConfigIssue[] }> {
  const warnings: ConfigIssue[] = [];
  const value = await p((w) => warnings.push(w));
  return { value, warnings };
}

function assertWarning(warnings: ConfigIssue[], path: string, text: string | RegExp): void {
  const hit = warnings.find((w) => w.path === path && (typeof text === 'string' ? w.message.includes(text) : text.test(w.message)));
  assert.ok(hit, `no warning at ${path} matching ${String(text)}; got:\n${warnings.map((w) => `${w.path}: ${w.message}`).join('\n')}`);
}

// What the original refused or panicked on, and what cannot work at all.
const REFUSED: [file: string, path: string, text: string | RegExp][] = [
  ['bad-json-trailing-comma.json', '', /invalid JSON at line 5, column 3: .*trailing comma/],
  ['bad-json-missing-comma.json', '', /invalid JSON at line 3, column 3: expected "," or "}"/],
  ['bad-not-object.json', '', 'expected a JSON object'],
  ['bad-null.json', '', 'expected a JSON object at the top level, got null'],
  ['bad-wrong-type.json', 'timeout', 'expected a number, got a string ("5")'],
  ['bad-string-bool.json', 'nostats', 'expected true or false, got a string ("yes")'],
  ['bad-fraction.json', 'inputbuffer', 'expected an integer, got a number (1.5)'],
  ['bad-negative.json', 'maxconnections', '-1 is too small; expected at least 0'],
  ['bad-inputbuffer-huge.json', 'inputbuffer', '1000000000 is too large; expected at most 1000000 packets'],
  ['bad-outputbuffer-huge.json', 'outputbuffer', '3000000 is too large; expected at most 1000000 packets'],
  ['bad-heartbeat-huge.json', 'heartbeatinterval', /3000000 is too large; expected at most 86400 seconds \(one day: .*24\.8-day/],
  ['bad-reconnect-huge.json', 'reconnect', '3000000 is too large; expected at most 86400 seconds'],
  ['bad-timeout-huge.json', 'timeout', '3000000 is too large; expected at most 86400 seconds'],
  ['bad-timer-tiny.json', 'reconnect', '0.001 must be 0 or at least 0.1 seconds'],
  ['bad-heartbeat-zero.json', 'heartbeatinterval', '0 with a heartbeat notification (notifications[0]): the original panics'],
  ['bad-duplicate-serve.json', 'resources[1].serve', '"/live.ts" is already served by resources[0]'],
  ['bad-empty-serve.json', 'resources[0].serve', /empty; expected a path such as "\/live.ts"/],
  ['bad-listen.json', 'listen', 'invalid listen address "localhost": missing ":port"'],
  ['bad-user-password-type.json', 'userlist.constructor.password', 'expected a string, got a number (5)'],
  ['bad-too-deep.json', '[""][0][0][0][0][0]...', 'nested deeper than 64 levels'],
];

// What the original ran: each loads, with a warning naming the path (and its effect here).
const LENIENT: [file: string, path: string, text: string | RegExp, check?: (c: Config) => void][] = [
  ['warn-unknown-key.json', 'resources[0].remtoe', 'unknown key (did you mean "remote"?); ignored'],
  ['warn-unknown-top-key.json', 'maxconections', 'unknown key (did you mean "maxconnections"?)', (c) => assert.equal(c.maxconnections, 0)],
  ['warn-resource-type.json', 'resources[0]', /skipped: unknown resource type "strem" \(did you mean "stream"\?\); expected one of "stream", "static", "api"/, (c) => assert.equal(c.resources.length, 0)],
  ['warn-api-type.json', 'resources[0]', /skipped: unknown api type "helth" \(did you mean "health"\?\)/, (c) => assert.equal(c.resources.length, 0)],
  ['warn-api-missing.json', 'resources[0]', 'skipped: a resource of type "api" needs "api"', (c) => assert.equal(c.resources.length, 0)],
  ['warn-stream-no-remote.json', 'resources[0].remote', 'stream skipped: no upstream', (c) => assert.equal(c.resources.length, 0)],
  ['warn-unknown-user.json', 'resources[0].authentication.user', 'user "bob" is not in userlist (known users: alice); that user cannot log in'],
  ['warn-unknown-users-entry.json', 'resources[0].authentication.users[1]', 'user "carol" is not in userlist'],
  ['warn-notification-user.json', 'notifications[0].authentication.user', 'user "dave" is not in userlist (known users: alice); the request is sent without credentials'],
  ['warn-notification-url.json', 'notifications[0].url', /notification skipped: "ftp:\/\/127.0.0.1\/x" is not an http/, (c) => assert.equal(c.notifications.length, 0)],
  ['warn-check-remote.json', 'resources[1].remote', /check API skipped \(its path answers 404\): "\/other.ts" is not the serve path of a stream resource \(stream paths: \/live.ts\)/, (c) => assert.deepEqual(c.resources.map((r) => r.serve), ['/live.ts'])],
  ['warn-control-no-remote.json', 'resources[1].remote', 'control API skipped (its path answers 404): no "remote"', (c) => assert.equal(c.resources.length, 1)],
  ['warn-preamble-missing.json', 'resources[0].preamble', /does-not-exist\.ts": no such file; the stream is served without a preamble/, (c) => assert.equal(c.resources[0]!.preamble, '')],
  ['warn-preamble-directory.json', 'resources[0].preamble', 'not a regular file', (c) => assert.equal(c.resources[0]!.preamble, '')],
  ['warn-upstream-scheme.json', 'resources[0].remote', /unknown upstream scheme "gopher" .*; this remote is ignored/, (c) => assert.deepEqual(resourceUpstreams(c.resources[0]!), [])],
  ['warn-upstream-url.json', 'resources[0].remotes[0]', '"not a url" is not a valid URL', (c) => assert.deepEqual(resourceUpstreams(c.resources[0]!), ['http://127.0.0.1:9000/live.ts'])],
  ['warn-static-scheme.json', 'resources[0].remote', 'static resource skipped (its path answers 404): it cannot fetch from "tcp" URLs', (c) => assert.equal(c.resources.length, 0)],
  ['warn-serve-path.json', 'resources[0].serve', '"live.ts" never matches a request: a path starts with "/" (did you mean "/live.ts"?)', (c) => assert.equal(c.resources[0]!.serve, 'live.ts')],
  ['warn-empty-strings.json', 'resources[1].remote', 'stream skipped: no upstream', (c) => {
    assert.deepEqual(c.resources.map((r) => r.serve), ['/live.ts']);
    assert.deepEqual(c.resources[0]!.authentication, { type: '', realm: '', users: [] });
    assert.equal(c.resources[0]!.api, undefined);
    assert.deepEqual(c.notifications[0]!.authentication, { type: '', realm: '', users: [] });
  }],
  ['warn-trailing-data.json', '', 'data after the end of the JSON value (line 2, column 1) ignored', (c) => assert.equal(c.listen, ':8000')],
  ['warn-zero-buffers.json', 'inputbuffer', '0 means the default (1000)', (c) => {
    assert.equal(c.inputbuffer, 1000);
    assert.equal(c.outputbuffer, 400);
    assert.equal(c.resources[0]!.mru, 1500);
  }],
  ['warn-user-no-password.json', 'userlist.alice', 'no "password": this user cannot log in', (c) => assert.deepEqual(Object.keys(c.userlist), ['carol'])],
  ['warn-user-no-password.json', 'resources[0].authentication.users[0]', 'user "alice" has no password in userlist; that user cannot log in'],
  ['warn-original-documented.json', 'resources[0].preamble', /preamble\.ts": no such file; the stream is served without a preamble/, (c) => {
    assert.equal(c.resources.length, 8);
    assert.equal(c.resources[0]!.preamble, '');
    assert.deepEqual(c.resources[0]!.authentication, { type: '', realm: '', users: [] });
    assert.equal(c.notifications.length, 3);
  }],
  ['warn-prototype-keys.json', 'constructor', 'unknown key', (c) => {
    assert.equal(c.listen, ':8000');
    assert.deepEqual(Object.keys(c.userlist).sort(), ['__proto__', 'constructor', 'hasOwnProperty']);
    const own = (name: string) => (Object.hasOwn(c.userlist, name) ? c.userlist[name] : undefined);
    assert.equal(own('constructor')?.password, 'c');
    assert.equal(own('__proto__')?.password, 'p');
    assert.equal('toString' in c.userlist, false, 'no inherited members');
    assert.deepEqual(authUsers(c.resources[0]!.authentication), ['constructor', '__proto__', 'hasOwnProperty', 'toString']);
  }],
];

describe('refusals name the path', () => {
  for (const [file, path, text] of REFUSED) {
    it(`${file} -> ${path || '(file)'}`, async () => {
      const e = await configError(loadConfig(join(fixtures, file)));
      assert.equal(e.code, 'CONFIG_INVALID');
      assertIssue(e, path, text);
      assert.ok(e.message.includes(join(fixtures, file)), 'message names the file');
    });
  }

  it('a token key that is not hex of at least 16 bytes, or none, is refused', async () => {
    const token = (key?: string) => JSON.stringify({ resources: [{ ...STREAM, authentication: { type: 'token', ...(key === undefined ? {} : { key }) } }] });
    for (const key of ['00112233445566778899aabbccddee', '00112233445566778899aabbccddeeffg0', 'secret-passphrase-of-length', '0011223344556677889']) {
      assertIssue(await configError(parseConfig(token(key), '/')), 'resources[0].authentication.key', 'hex of at least 16 bytes');
    }
    assertIssue(await configError(parseConfig(token(), '/')), 'resources[0].authentication.key', 'needs "key"');
    const ok = await parseConfig(token('00112233445566778899AABBCCDDEEFF'), '/');
    assert.equal(ok.resources[0]!.authentication!.key, '00112233445566778899AABBCCDDEEFF');
  });

  it('every fixture in test/fixtures/config is listed here', async () => {
    const { readdir } = await import('node:fs/promises');
    const files = (await readdir(fixtures)).filter((f) => f.endsWith('.json'));
    assert.deepEqual(files.sort(), [...new Set([...REFUSED, ...LENIENT].map((c) => c[0]))].sort(), 'each fixture has a case');
    assert.ok(REFUSED.every((c) => c[0].startsWith('bad-')) && LENIENT.every((c) => c[0].startsWith('warn-')));
  });
  it('reports several problems at once, in order', async () => {
    const e = await configError(parseConfig(JSON.stringify({
      listen: ':99999', inputbuffer: 1.5, maxconnections: -1, nostats: 'yes', userlist: { a: { password: 1 } },
      resources: [{ type: 'stream' }],
    }), '/'));
    assert.deepEqual(e.issues.map((i) => i.path), [
      'userlist.a.password', 'listen', 'inputbuffer', 'maxconnections', 'nostats', 'resources[0].serve',
    ]);
    assertIssue(e, 'inputbuffer', 'expected an integer, got a number (1.5)');
    assertIssue(e, 'maxconnections', 'expected at least 0');
    assertIssue(e, 'resources[0].serve', 'missing; expected a string');
  });

  it('a far-off unknown key lists the known keys', async () => {
    const { warnings } = await withWarnings((onWarning) => parseConfig('{"zzzzzz": 1}', '/', { onWarning }));
    assertWarning(warnings, 'zzzzzz', /unknown key \(known keys: .*listen.*resources/);
  });

  it('unreadable files are CONFIG_UNREADABLE', async () => {
    const missing = await configError(loadConfig(join(fixtures, 'no-such-file.json')));
    assert.equal(missing.code, 'CONFIG_UNREADABLE');
    assert.match(missing.message, /no-such-file\.json: no such file/);
    const dir = await configError(loadConfig(fixtures));
    assert.equal(dir.code, 'CONFIG_UNREADABLE');
  });
});

describe('what the original ran loads, with warnings naming the path', () => {
  for (const [file, path, text, check] of LENIENT) {
    it(`${file} -> ${path || '(file)'}`, async () => {
      const { value, warnings } = await withWarnings((onWarning) => loadConfig(join(fixtures, file), { onWarning }));
      assertWarning(warnings, path, text);
      check?.(value);
    });
    it(`${file} is refused with strict`, async () => {
      const e = await configError(loadConfig(join(fixtures, file), { strict: true }));
      assertIssue(e, path, text);
      assert.match(e.message, /strict: every warning is an error/);
    });
  }

  it('the original\'s documented example warns only about its missing preamble', async () => {
    const { warnings } = await withWarnings((onWarning) => loadConfig(join(fixtures, 'warn-original-documented.json'), { onWarning }));
    assert.deepEqual(warnings.map((w) => w.path), ['resources[0].preamble']);
  });

  it('warnings name the entry as written even after skipped ones', async () => {
    const { value, warnings } = await withWarnings((onWarning) => parseConfig(JSON.stringify({
      resources: [
        { type: 'radio', serve: '/a' },
        null,
        { ...STREAM, remotes: ['gopher://x/'] },
        { type: 'api', api: 'check', serve: '/check', remote: '/nope.ts' },
      ],
      notifications: [{ event: 'limit_hot', url: 'http://127.0.0.1:9/' }, { event: 'limit_hit', url: 'ftp://x/' }],
    }), '/', { onWarning }));
    assert.deepEqual(warnings.map((w) => w.path), ['resources[0]', 'resources[1]', 'resources[2].remotes[0]', 'resources[3].remote', 'notifications[0]', 'notifications[1].url']);
    assert.match(warnings[4]!.message, /unknown event "limit_hot" \(did you mean "limit_hit"\?\)/);
    assert.deepEqual(value.resources.map((r) => r.serve), ['/live.ts']);
    assert.deepEqual(value.notifications, []);
  });

  it('a refusal after a skipped entry names the entry as written', async () => {
    const e = await configError(parseConfig(JSON.stringify({ resources: [{ type: 'radio', serve: '/a' }, { ...STREAM, cache: 'x' }] }), '/'));
    assertIssue(e, 'resources[1].cache', 'expected a number');
  });

  it('a host pattern in serve is a valid Go ServeMux pattern: no warning', async () => {
    const { value, warnings } = await withWarnings((onWarning) => parseConfig(JSON.stringify({
      resources: [STREAM, { type: 'api', api: 'health', serve: 'localhost/health' }],
    }), '/', { onWarning }));
    assert.deepEqual(warnings, []);
    assert.equal(value.resources[1]!.serve, 'localhost/health');
  });

  it('a stream whose every remote is unusable stays, with no upstream (offline, 404)', async () => {
    const { value, warnings } = await withWarnings((onWarning) => parseConfig(JSON.stringify({
      resources: [{ type: 'stream', serve: '/x.ts', remote: 'gopher://h/', remotes: ['tcp://127.0.0.1'] }],
    }), '/', { onWarning }));
    assert.deepEqual(value.resources.map((r) => [r.serve, resourceUpstreams(r)]), [['/x.ts', []]]);
    assertWarning(warnings, 'resources[0].remotes[0]', /invalid tcp upstream "tcp:\/\/127.0.0.1": .*port/);
    assertWarning(warnings, 'resources[0].remote', 'no usable upstream: the stream stays offline and answers 404');
  });

  it('no stream at all is served with a warning (the original refused it)', async () => {
    const { warnings } = await withWarnings((onWarning) => parseConfig('{"resources": [{"type": "api", "api": "health", "serve": "/health"}]}', '/', { onWarning }));
    assertWarning(warnings, 'resources', 'no stream resource');
  });

  it('a non-api resource with "api" set: ignored with a warning; "" means unset silently', async () => {
    const { value, warnings } = await withWarnings((onWarning) => parseConfig(JSON.stringify({
      resources: [{ ...STREAM, api: 'health' }, { ...STREAM, serve: '/b.ts', api: '' }],
    }), '/', { onWarning }));
    assert.deepEqual(warnings.map((w) => w.path), ['resources[0].api']);
    assert.equal(value.resources[0]!.api, undefined);
  });

  it('"listen": "" is Go\'s ":http" (all interfaces, port 80)', async () => {
    assert.equal((await parseConfig('{"listen": ""}', '/')).listen, ':http');
  });

  it('heartbeatinterval 0 without a heartbeat notification is fine', async () => {
    await parseConfig('{"heartbeatinterval": 0, "notifications": [{"event": "limit_hit", "url": "http://127.0.0.1:9/"}]}', '/');
  });
});

describe('numbers have ranges', () => {
  const cases: [key: string, ok: number[], bad: number[]][] = [
    ['timeout', [0, 0.1, 1.5, 86400], [-1, 0.05, 86400.5, 1e308]],
    ['reconnect', [0, 10, 86400], [3e6, 0.01]],
    ['readtimeout', [0, 4], [1e9]],
    ['heartbeatinterval', [0.1, 60, 86400], [86401]],
    ['slowtimeout', [0, 60], [2 ** 31]],
    ['grace', [0, 30, 86400], [1e7]],
    ['inputbuffer', [1, 1000, 1_000_000], [1_000_001, 1e9, -5, 2.5]],
    ['outputbuffer', [1, 400, 1_000_000], [1e7]],
    ['maxconnections', [0, 10_000_000], [1e8, -1]],
    ['fullconnections', [0, 90], [1e10]],
    ['batchms', [0, 1000], [1001]],
    ['workers', [0, 256], [257]],
  ];
  for (const [key, ok, bad] of cases) {
    it(key, async () => {
      for (const v of ok) await parseConfig(JSON.stringify({ [key]: v }), '/');
      for (const v of bad) await configError(parseConfig(JSON.stringify({ [key]: v }), '/'));
    });
  }
  it('resource numbers', async () => {
    const res = (extra: object) => parseConfig(JSON.stringify({ resources: [{ ...STREAM, ...extra }] }), '/');
    for (const ok of [{ cache: 31_536_000 }, { mru: 65535 }, { linger: 86400 }, { rtpreorder: 1024 }]) await res(ok);
    for (const bad of [{ cache: 31_536_001 }, { mru: 65536 }, { linger: 1e6 }, { rtpreorder: 0 }, { mru: 1.5 }]) await configError(res(bad));
  });
  it('an out-of-range message names the unit and why the bound is there, where that is not obvious', async () => {
    const day = 'seconds (one day: longer timers would overflow Node\'s 24.8-day limit and fire at once)';
    const cases: [config: object, path: string, message: string][] = [
      [{ inputbuffer: 1e7 }, 'inputbuffer', '10000000 is too large; expected at most 1000000 packets (a ring of that many 188-byte packets per stream)'],
      [{ grace: -1 }, 'grace', `-1 is too small; expected at least 0 ${day}`],
      [{ resources: [{ ...STREAM, linger: 1e6 }] }, 'resources[0].linger', `1000000 is too large; expected at most 86400 ${day}`],
      [{ resources: [{ ...STREAM, cache: 4e7 }] }, 'resources[0].cache', '40000000 is too large; expected at most 31536000 seconds (one year)'],
      // Bounds that need no reason get none.
      [{ drain: 3601 }, 'drain', '3601 is too large; expected at most 3600'],
      [{ batchms: 1001 }, 'batchms', '1001 is too large; expected at most 1000'],
      [{ resources: [{ ...STREAM, mru: 65536 }] }, 'resources[0].mru', '65536 is too large; expected at most 65535'],
    ];
    for (const [config, path, message] of cases) {
      const e = await configError(parseConfig(JSON.stringify(config), '/'));
      assert.deepEqual(e.issues[0], { path, message });
    }
  });
  it('-0 reads as 0', async () => {
    const c = await parseConfig('{"timeout": -0, "maxconnections": -0}', '/');
    assert.ok(Object.is(c.timeout, 0) && Object.is(c.maxconnections, 0));
  });
  it('a number beyond double range is refused, not read as Infinity', async () => {
    const e = await configError(parseConfig('{"timeout": 1e400}', '/'));
    assertIssue(e, 'timeout', 'number too large');
  });
  it('every number in the editor schema has a minimum and a maximum, and its description states the range', () => {
    const schema = configJsonSchema();
    const walk = (n: unknown, path: string): void => {
      if (Array.isArray(n)) return n.forEach((v, i) => walk(v, `${path}[${i}]`));
      if (n === null || typeof n !== 'object') return;
      const o = n as Record<string, unknown>;
      if (o.type === 'number' || o.type === 'integer') {
        assert.equal(typeof o.minimum, 'number', `${path} has no minimum`);
        assert.equal(typeof o.maximum, 'number', `${path} has no maximum`);
      }
      if (o.properties) {
        for (const [k, v] of Object.entries(o.properties as Record<string, Record<string, unknown>>)) {
          const types = [v.type, ...((v.anyOf as Record<string, unknown>[] | undefined) ?? []).map((x) => x.type)];
          if (types.includes('number') || types.includes('integer')) assert.match(String(v.description), /\d[\d,]*(-| to )[\d,]+/, `${path}.${k} description lacks its range`);
        }
      }
      for (const [k, v] of Object.entries(o)) walk(v, `${path}/${k}`);
    };
    walk(schema, '#');
  });
});

describe('strict', () => {
  it('a clean configuration loads with strict', async () => {
    await loadConfig(join(root, 'examples/minimal/restreamer.json'), { strict: true });
  });
  it('refuses case-differing keys and lists every warning', async () => {
    const e = await configError(parseConfig(JSON.stringify({ Listen: ':9000', resources: [{ ...STREAM, foo: 1 }] }), '/', { strict: true }));
    assert.deepEqual(e.issues.map((i) => i.path), ['Listen', 'resources[0].foo']);
  });
});

describe('hostile input gives a ConfigError, never a crash', () => {
  const deep = (n: number, open: string, close: string, inner = '') => open.repeat(n) + inner + close.repeat(n);
  const texts: [string, string][] = [
    ['20,000 nested lists', deep(20000, '[', ']')],
    ['20,000 nested objects', deep(20000, '{"a":', '}', '1')],
    ['2,000 nested lists in resources', `{"resources": ${deep(2000, '[', ']')}}`],
    ['2,000 nested objects in a resource', `{"resources": [{"type": "stream", "serve": "/a", "x": ${deep(2000, '{"a":', '}', '1')}}]}`],
    ['20,000 unclosed lists', '['.repeat(20000)],
    ['20,000 unclosed objects', '{"a":'.repeat(20000)],
  ];
  for (const [name, text] of texts) {
    it(name, async () => {
      const e = await configError(parseConfig(text, '/'));
      assert.match(e.message, /nested deeper than 64 levels|expected a JSON object/);
    });
  }
  it('deep data after the first JSON value is never read (as the original)', async () => {
    const { warnings } = await withWarnings((onWarning) => parseConfig(`{} ${deep(20000, '[', ']')}`, '/', { onWarning }));
    assertWarning(warnings, '', 'data after the end of the JSON value (line 1, column 4) ignored');
  });
  it('comments may nest as deep as 60 levels', async () => {
    await parseConfig(`{"": ${deep(60, '[', ']')}}`, '/');
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
    const c = await parseConfig(JSON.stringify({ maxconnections: 10, fullconnections: 20, resources: [STREAM] }), '/', { onWarning: (w) => warnings.push(w) });
    assert.equal(c.fullconnections, 20);
    assert.deepEqual(warnings.map((w) => w.path), ['fullconnections']);
  });

  it('warns about an unknown authentication type (it denies everyone)', async () => {
    const warnings: ConfigIssue[] = [];
    await parseConfig(JSON.stringify({ resources: [{ ...STREAM, authentication: { type: 'Basic' } }] }), '/', { onWarning: (w) => warnings.push(w) });
    assert.equal(warnings[0]?.path, 'resources[0].authentication.type');
    assert.match(warnings[0].message, /did you mean "basic"/);
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
