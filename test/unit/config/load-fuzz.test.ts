// Property tests of the configuration loader: whatever the file holds, loading it either
// gives a configuration within every documented range or throws ConfigError (exit 2).
// Never another exception, never a stack trace. The inputs lean on what broke it before:
// keys named like Object.prototype members, deep nesting, extreme numbers.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ConfigError, parseConfig } from '../../../src/config/load.js';
import { MAX_BUFFER_PACKETS, MAX_CACHE_SECONDS, MAX_CONNECTIONS, MAX_SECONDS, MIN_TIMER_SECONDS, type Config } from '../../../src/config/schema.js';

const PROTO_KEYS = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'prototype', '__defineGetter__'];
const TOP_KEYS = ['listen', 'timeout', 'reconnect', 'readtimeout', 'inputbuffer', 'outputbuffer', 'maxconnections', 'fullconnections',
  'nostats', 'profile', 'heartbeatinterval', 'log', 'batchms', 'batchmaxms', 'grace', 'workers', 'slowtimeout', 'userlist', 'resources', 'notifications'];
const RESOURCE_KEYS = ['type', 'api', 'serve', 'remote', 'remotes', 'cache', 'mru', 'clientinterface', 'rtpreorder', 'preamble', 'start', 'ondemand', 'linger', 'authentication'];
const AUTH_KEYS = ['type', 'realm', 'user', 'users'];
const NOTIFICATION_KEYS = ['event', 'type', 'url', 'authentication'];

const EXTREME = [0, -0, 1, -1, 0.001, 0.05, 0.1, 1.5, 255, 65535, 65536, 86400, 86401, 3e6, 1e9, 2 ** 31, 2 ** 53, 1e308, -1e308, 5e-324, 1e21];
const STRINGS = ['', ' ', 'NaN', 'Infinity', '-0', '1e9', 'stream', 'static', 'api', 'health', 'check', 'control', 'basic', 'bearer', 'heartbeat',
  'limit_hit', 'url', '/live.ts', 'live.ts', 'localhost/health', '/', 'http://127.0.0.1:9/x', 'ftp://x/', 'gopher://x', 'tcp://127.0.0.1',
  'file:%zz', 'file:rel.ts', 'udp://239.1.1.1:1234', 'unix:///tmp/x', 'fork://ffmpeg?-i', 'not a url', ':8000', 'localhost', '[::1]:0', '\u0000', 'é'];

const key = (known: readonly string[]) => fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...known) },
  { weight: 2, arbitrary: fc.constantFrom(...PROTO_KEYS, '') },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);

const scalar = fc.oneof(
  fc.constantFrom(...EXTREME),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.constantFrom(...STRINGS),
  fc.string({ maxLength: 12 }),
  fc.boolean(),
  fc.constant(null),
);

/** Any JSON value, keys biased towards the schema's and Object.prototype's names. */
const { value: wild } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key([...TOP_KEYS, ...RESOURCE_KEYS, ...AUTH_KEYS, 'password']), tie('value'), { maxKeys: 5 }),
  ),
}));

const obj = (keys: readonly string[], nested: Record<string, fc.Arbitrary<unknown>> = {}) =>
  fc.dictionary(key(keys), wild, { maxKeys: 8 }).chain((base) =>
    fc.record(nested, { requiredKeys: [] }).map((extra) => ({ ...base, ...extra })));

const auth = obj(AUTH_KEYS);
const resource = obj(RESOURCE_KEYS, { authentication: auth });
const notification = obj(NOTIFICATION_KEYS, { authentication: auth });
const userlist = fc.dictionary(key(['alice', ...PROTO_KEYS]), fc.oneof(obj(['password']), wild), { maxKeys: 4 });
/** A configuration shaped like a real one, with wild values everywhere. */
const config = obj(TOP_KEYS, {
  resources: fc.array(fc.oneof({ weight: 5, arbitrary: resource }, { weight: 1, arbitrary: wild }), { maxLength: 5 }),
  notifications: fc.array(notification, { maxLength: 3 }),
  userlist,
});

/** The JSON text of a generated value (fast-check's dictionaries hold "__proto__" as an own key, as JSON.parse does). */
function text(v: unknown): string {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JSON.stringify(undefined) is undefined (wild values include it), though typed string
  return JSON.stringify(v) ?? 'null';
}

let dir: string;
before(async () => { dir = await mkdtemp(join(tmpdir(), 'restreamer-config-fuzz-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

/** Load `t`; it must load within the ranges or throw ConfigError. */
async function loadsOrRefuses(t: string, strict = false): Promise<void> {
  let c: Config;
  try {
    c = await parseConfig(t, dir, { strict });
  } catch (e) {
    if (e instanceof ConfigError) {
      assert.equal(e.code, 'CONFIG_INVALID');
      assert.ok(e.issues.length > 0 && e.issues.every((i) => typeof i.path === 'string' && i.message.length > 0));
      return;
    }
    throw e;
  }
  assertWithinRanges(c);
}

function assertWithinRanges(c: Config): void {
  const timer = (v: number | null, name: string) => {
    if (v === null) return;
    assert.ok(Number.isFinite(v) && v >= 0 && v <= MAX_SECONDS && (v === 0 || v >= MIN_TIMER_SECONDS), `${name} = ${v}`);
  };
  for (const k of ['timeout', 'reconnect', 'readtimeout', 'heartbeatinterval', 'slowtimeout', 'grace'] as const) timer(c[k], k);
  for (const k of ['inputbuffer', 'outputbuffer'] as const) assert.ok(Number.isInteger(c[k]) && c[k] >= 1 && c[k] <= MAX_BUFFER_PACKETS, k);
  for (const k of ['maxconnections', 'fullconnections'] as const) assert.ok(Number.isInteger(c[k]) && c[k] >= 0 && c[k] <= MAX_CONNECTIONS, k);
  assert.equal(Object.getPrototypeOf(c.userlist), null);
  for (const u of Object.values(c.userlist)) assert.equal(typeof u.password, 'string');
  for (const r of c.resources) {
    assert.ok(['stream', 'static', 'api'].includes(r.type));
    assert.ok(r.serve.length > 0);
    timer(r.linger, 'linger');
    assert.ok(r.cache >= 0 && r.cache <= MAX_CACHE_SECONDS);
    assert.ok(Number.isInteger(r.mru) && r.mru >= 1 && r.mru <= 65535);
    assert.ok(r.preamble === '' || r.preamble.startsWith('/'));
    if (r.type === 'api') assert.ok(r.api !== undefined);
  }
  for (const n of c.notifications) assert.match(n.url, /^https?:/i);
  if (c.notifications.some((n) => n.event === 'heartbeat')) assert.ok(c.heartbeatinterval > 0);
}

const RUNS = { numRuns: 400 };

describe('config loader fuzz: loads within ranges or throws ConfigError', () => {
  it('any JSON value', async () => {
    await fc.assert(fc.asyncProperty(wild, async (v) => loadsOrRefuses(text(v))), RUNS);
  });

  it('configurations shaped like real ones, with wild values (also strict)', async () => {
    await fc.assert(fc.asyncProperty(config, fc.boolean(), async (v, strict) => loadsOrRefuses(text(v), strict)), RUNS);
  });

  it('prototype-named keys at every depth, as JSON.parse makes them (own "__proto__")', async () => {
    const protoObj = (depth: number): fc.Arbitrary<string> => depth === 0
      ? fc.constantFrom('1', '"x"', 'null', '{}', '[]', '{"password": "p"}')
      : fc.array(fc.tuple(fc.constantFrom(...PROTO_KEYS, 'type', 'password', 'users'), protoObj(depth - 1)), { maxLength: 3 })
        .map((kv) => `{${kv.map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(', ')}}`);
    const placed = fc.tuple(protoObj(3), fc.constantFrom(
      (x: string) => x,
      (x: string) => `{"userlist": ${x}}`,
      (x: string) => `{"resources": [{"type": "stream", "serve": "/a", "remote": "http://127.0.0.1:9/", "authentication": ${x}}]}`,
      (x: string) => `{"resources": [${x}]}`,
      (x: string) => `{"notifications": [${x}]}`,
      (x: string) => `{"userlist": {"constructor": ${x}, "__proto__": ${x}}, "resources": [{"type": "stream", "serve": "/a", "remote": "http://127.0.0.1:9/", "authentication": {"type": "basic", "users": ["constructor", "__proto__", "toString"]}}]}`,
    ));
    await fc.assert(fc.asyncProperty(placed, async ([x, place]) => loadsOrRefuses(place(x))), RUNS);
  });

  it('deep nesting (2,000-20,000 levels of [] or {}), closed or not, anywhere', async () => {
    const nest = fc.record({
      depth: fc.integer({ min: 2000, max: 20000 }),
      kind: fc.constantFrom('[]', '{}'),
      closed: fc.boolean(),
      place: fc.constantFrom('top', 'comment', 'unknown', 'resources', 'resource', 'userlist', 'auth', 'trailing'),
    });
    await fc.assert(fc.asyncProperty(nest, async ({ depth, kind, closed, place }) => {
      const [open, close, inner] = kind === '[]' ? ['[', ']', ''] : ['{"a":', '}', '1'];
      const v = open.repeat(depth) + inner + (closed ? close.repeat(depth) : '');
      const t = {
        top: v,
        comment: `{"": ${v}}`,
        unknown: `{"x": ${v}}`,
        resources: `{"resources": ${v}}`,
        resource: `{"resources": [{"type": "stream", "serve": "/a", "remotes": ${v}}]}`,
        userlist: `{"userlist": {"constructor": ${v}}}`,
        auth: `{"resources": [{"type": "api", "api": "health", "serve": "/h", "authentication": {"users": ${v}}}]}`,
        trailing: `{"listen": ":0"} ${v}`,
      }[place];
      await loadsOrRefuses(t);
    }), { numRuns: 60 });
  });

  it('truncated and spliced text', async () => {
    const base = JSON.stringify({
      listen: ':8000', timeout: 3, userlist: { constructor: { password: 'c' } },
      resources: [{ type: 'stream', serve: '/a.ts', remote: 'http://127.0.0.1:9/a', authentication: { type: 'basic', user: 'constructor' } }],
      notifications: [{ event: 'heartbeat', url: 'http://127.0.0.1:9/b' }],
    });
    const edit = fc.record({ at: fc.nat({ max: base.length }), cut: fc.nat({ max: 20 }), insert: fc.constantFrom('', '[', '{', '"', ',', '}', ']', '1e999', '-0', ' x', '"__proto__":', '\u0000', '\\') });
    await fc.assert(fc.asyncProperty(edit, async ({ at, cut, insert }) => loadsOrRefuses(base.slice(0, at) + insert + base.slice(at + cut))), RUNS);
  });
});
