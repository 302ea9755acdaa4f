import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { MAX_DEPTH, formatPath, isPlainObject, prepare, setKey, shapeOf, tooDeep, unwrap } from '../../../src/config/prepare.js';
import { AuthenticationSchema, ConfigSchema, ResourceSchema } from '../../../src/config/schema.js';

const paths = (r: { warnings: { path: string }[] }) => r.warnings.map((w) => w.path);
const message = (r: { warnings: { path: string; message: string }[] }, path: string) => r.warnings.find((w) => w.path === path)?.message;

describe('prepare: keys', () => {
  it('drops "" comment keys at every depth, in objects and in records', () => {
    const r = prepare({ '': 'c', userlist: { '': 1, bob: { password: 'p', '': 2 } }, resources: [{ '': 0, type: 'stream', serve: '/a', authentication: { '': 0 } }] });
    assert.deepEqual(r.value, { resources: [{ type: 'stream', serve: '/a', authentication: {} }] });
    assert.deepEqual(r.users, [['bob', { password: 'p' }]]);
    assert.deepEqual(r.warnings, []);
  });

  it('drops an unknown key with a warning: a suggestion when one is close, else the known keys', () => {
    const r = prepare({ timout: 3, resources: [{ type: 'static', serve: '/s', xx: 1 }] });
    assert.deepEqual(r.value, { resources: [{ type: 'static', serve: '/s' }] });
    assert.equal(message(r, 'timout'), 'unknown key (did you mean "timeout"?); ignored, as the original did');
    assert.equal(message(r, 'resources[0].xx'), `unknown key (known keys: ${Object.keys(ResourceSchema.shape).join(', ')}); ignored, as the original did`);
  });

  it('reads a key differing only in case as the known one, with a warning', () => {
    const r = prepare({ Listen: ':8000' });
    assert.deepEqual(r.value, { listen: ':8000' });
    assert.equal(message(r, 'Listen'), 'read as "listen" (keys are matched ignoring case, as the original did); write "listen"');
  });

  it('null means the default: the key is left out', () => {
    assert.deepEqual(prepare({ nostats: null, grace: null, resources: [{ type: 'stream', serve: '/a', remote: null }] }).value, { resources: [{ type: 'stream', serve: '/a' }] });
  });

  it('"" leaves out a text key that has a default or is optional, and only those', () => {
    const r = prepare({ log: '', logformat: '', realm: undefined, timeout: '', resources: [{ type: 'static', serve: '', remote: '', start: '' }] });
    assert.deepEqual(r.value, { timeout: '', resources: [{ type: 'static', serve: '' }] });
  });

  it('"listen": "" is Go\'s ":http"', () => {
    assert.deepEqual(prepare({ listen: '' }).value, { listen: ':http' });
  });

  it('0 means the default for inputbuffer, outputbuffer and mru (with a warning), nowhere else', () => {
    const r = prepare({ inputbuffer: 0, outputbuffer: 0, maxconnections: 0, resources: [{ type: 'stream', serve: '/a', mru: 0, cache: 0 }] });
    assert.deepEqual(r.value, { maxconnections: 0, resources: [{ type: 'stream', serve: '/a', cache: 0 }] });
    assert.deepEqual(paths(r), ['inputbuffer', 'outputbuffer', 'resources[0].mru']);
    assert.equal(message(r, 'inputbuffer'), '0 means the default (1000), as in the original; write 1000 or leave the key out');
    assert.equal(message(r, 'outputbuffer'), '0 means the default (400), as in the original; write 400 or leave the key out');
    assert.equal(message(r, 'resources[0].mru'), '0 means the default (1500), as in the original; write 1500 or leave the key out');
  });

  it('-0 reads as 0', () => {
    assert.ok(Object.is(prepare({ batchms: -0 }).value.batchms, 0));
  });

  it('keys named like Object.prototype members are plain data', () => {
    const r = prepare(JSON.parse('{"__proto__": 1, "constructor": 2, "userlist": {"__proto__": {"password": "p"}}}') as Record<string, unknown>);
    assert.deepEqual(paths(r), ['__proto__', 'constructor']);
    assert.deepEqual(r.users, [['__proto__', { password: 'p' }]]);
    assert.equal(Object.getPrototypeOf(r.value), Object.prototype);
  });

  it('values of a type the schema does not expect are passed on for the schema to judge', () => {
    assert.deepEqual(prepare({ resources: 'none', userlist: [1], timeout: { a: 1 } }).value, { resources: 'none', userlist: [1], timeout: { a: 1 } });
  });
});

describe('prepare: entries the original skipped', () => {
  it('resources: null, no type, unknown type, api without or with an unknown api', () => {
    const r = prepare({ resources: [null, { serve: '/a' }, { type: 'strem', serve: '/b' }, { type: 'api', serve: '/c' }, { type: 'api', api: 'helth', serve: '/d' }, { type: 'api', api: 'health', serve: '/e' }] });
    assert.deepEqual(r.value.resources, [{ type: 'api', api: 'health', serve: '/e' }]);
    assert.deepEqual(r.resourceIndex, [5]);
    assert.deepEqual(r.warnings.map((w) => `${w.path}: ${w.message}`), [
      'resources[0]: null entry skipped, as the original did',
      'resources[1]: skipped: no "type" (one of "stream", "static", "api"), as the original skipped it',
      'resources[2]: skipped: unknown resource type "strem" (did you mean "stream"?); expected one of "stream", "static", "api" (the original logged it and went on)',
      'resources[3]: skipped: a resource of type "api" needs "api", one of "health", "statistics", "check", "control", "prometheus", "status", "playlist" (the original logged it and went on)',
      'resources[4]: skipped: unknown api type "helth" (did you mean "health"?); expected one of "health", "statistics", "check", "control", "prometheus", "status", "playlist" (the original logged it and went on)',
    ]);
  });

  it('a skipped entry reports nothing about its keys; a kept one does, after its own "api" warning', () => {
    const r = prepare({ resources: [{ type: 'nope', bogus: 1 }, { type: 'stream', serve: '/e', bogus: 1, api: 'health', authentication: { usr: 'x' } }] });
    assert.deepEqual(paths(r), ['resources[0]', 'resources[1].api', 'resources[1].bogus', 'resources[1].authentication.usr']);
    assert.equal(message(r, 'resources[1].api'), 'ignored: only resources of type "api" use "api"');
    assert.deepEqual(r.value.resources, [{ type: 'stream', serve: '/e', authentication: {} }]);
    assert.deepEqual(r.resourceIndex, [1]);
  });

  it('notifications: no event, unknown event, unknown type', () => {
    const r = prepare({ notifications: [{ type: 'url' }, { event: 'hart' }, { event: 'heartbeat', type: 'mail' }, { event: 'limit_hit', url: 'http://x' }] });
    assert.deepEqual(r.value.notifications, [{ event: 'limit_hit', url: 'http://x' }]);
    assert.deepEqual(r.notificationIndex, [3]);
    assert.deepEqual(r.warnings.map((w) => `${w.path}: ${w.message}`), [
      'notifications[0]: skipped: no "event" (one of "limit_hit", "limit_miss", "heartbeat", "alarm_raised", "alarm_cleared"), as the original skipped it',
      'notifications[1]: skipped: unknown event "hart"; expected one of "limit_hit", "limit_miss", "heartbeat", "alarm_raised", "alarm_cleared" (the original logged it and went on)',
      'notifications[2]: skipped: unknown notification type "mail"; expected "url" (the original logged it and went on)',
    ]);
  });

  it('entries that are not objects are kept for the schema to judge', () => {
    const r = prepare({ resources: [1, 'x'], notifications: [[]] });
    assert.deepEqual(r.value, { resources: [1, 'x'], notifications: [[]] });
    assert.deepEqual(r.resourceIndex, [0, 1]);
    assert.deepEqual(r.notificationIndex, [0]);
  });
});

describe('prepare: userlist', () => {
  it('is taken out of the value, entry by entry as written', () => {
    const r = prepare({ userlist: { bob: { password: 'p' }, eve: null } });
    assert.deepEqual(r.value, {});
    assert.deepEqual(r.users, [['bob', { password: 'p' }], ['eve', null]]);
  });
  it('one that is not an object stays for the schema to refuse', () => {
    const r = prepare({ userlist: 'bob' });
    assert.deepEqual(r.value, { userlist: 'bob' });
    assert.deepEqual(r.users, []);
  });
});

describe('tooDeep', () => {
  const nested = (levels: number) => JSON.parse(`${'['.repeat(levels)}${']'.repeat(levels)}`) as unknown;
  it(`accepts ${MAX_DEPTH} levels`, () => {
    assert.equal(tooDeep(nested(MAX_DEPTH)), undefined);
    assert.equal(tooDeep({ a: 1 }), undefined);
  });
  it('names the path of the first value too deep, shortened when long', () => {
    assert.equal(tooDeep(nested(MAX_DEPTH + 6)), '[0][0][0][0][0][0]...');
    assert.equal(tooDeep({ a: nested(MAX_DEPTH) }), 'a[0][0][0][0][0]...');
    assert.equal(tooDeep(JSON.parse(`{"a":${'{"b":'.repeat(MAX_DEPTH)}1${'}'.repeat(MAX_DEPTH + 1)}`)), 'a.b.b.b.b.b...');
  });
  it('does not recurse: any depth is safe', () => {
    assert.equal(tooDeep(nested(100_000)), '[0][0][0][0][0][0]...');
  });
});

describe('helpers', () => {
  it('formatPath', () => {
    assert.equal(formatPath(['resources', 0, 'authentication', 'users', 2]), 'resources[0].authentication.users[2]');
    assert.equal(formatPath(['userlist', 'bob smith', 'password']), 'userlist["bob smith"].password');
    assert.equal(formatPath([0, 'a-b', '$x']), '[0].a-b.$x');
    assert.equal(formatPath([]), '');
  });
  it('setKey adds "__proto__" as a key, not a prototype', () => {
    const o: Record<string, unknown> = {};
    setKey(o, '__proto__', { polluted: true });
    assert.equal(Object.getPrototypeOf(o), Object.prototype);
    assert.deepEqual(Object.keys(o), ['__proto__']);
  });
  it('isPlainObject', () => {
    assert.ok(isPlainObject({}));
    for (const v of [null, [], 'x', 1, undefined]) assert.ok(!isPlainObject(v));
  });
  it('shapeOf sees through optional, default and nullable wrappers; unwrap removes them', () => {
    assert.equal(shapeOf(ConfigSchema), ConfigSchema.shape);
    assert.equal(shapeOf(ResourceSchema.shape.authentication), AuthenticationSchema.shape);
    assert.equal(shapeOf(ConfigSchema.shape.timeout), undefined);
    assert.equal(shapeOf(undefined), undefined);
    assert.equal(unwrap(ConfigSchema.shape.grace).constructor, unwrap(ConfigSchema.shape.timeout).constructor);
    assert.equal(unwrap(ConfigSchema), ConfigSchema);
  });
});
