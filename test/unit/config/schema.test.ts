import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { unwrap } from '../../../src/config/prepare.js';
import {
  ConfigSchema, ResourceSchema, authUsers, keyMeta, keysWhere, resourceUpstreams, type KeyMeta,
} from '../../../src/config/schema.js';

/** Every key of every object in the schema, with its JSON-ish path: objects inside lists and records too. */
function allKeys(): [path: string, key: z.core.$ZodType, parent: z.ZodObject][] {
  const out: [string, z.core.$ZodType, z.ZodObject][] = [];
  const visit = (s: z.core.$ZodType, path: string): void => {
    const u = unwrap(s);
    if (u instanceof z.ZodObject) {
      const shape: Record<string, z.core.$ZodType> = u.shape;
      for (const [k, field] of Object.entries(shape)) {
        out.push([path ? `${path}.${k}` : k, field, u]);
        visit(field, path ? `${path}.${k}` : k);
      }
    } else if (u instanceof z.ZodArray) visit(u.element, `${path}[]`);
    else if (u instanceof z.ZodRecord) visit(u.valueType, `${path}{}`);
  };
  visit(ConfigSchema, '');
  return out;
}

const RELOAD_EFFECTS: readonly KeyMeta['reload'][] = ['restart', 'apply', 'refuse', 'startup'];

describe('what each key means (KeyMeta)', () => {
  const keys = allKeys();

  it('the walk reaches every object: top level, resources, notifications, both authentications, users', () => {
    for (const p of ['listen', 'resources[].linger', 'resources[].authentication.realm', 'notifications[].url', 'notifications[].authentication.users', 'userlist{}.password']) {
      assert.ok(keys.some(([path]) => path === p), `no ${p}`);
    }
  });

  it('every key says what a reload does with it', () => {
    for (const [path, key] of keys) {
      const meta = keyMeta(key);
      assert.ok(meta, `${path} has no KeyMeta: register it in KEYS (src/config/schema.ts)`);
      assert.ok(RELOAD_EFFECTS.includes(meta.reload), `${path}: reload ${meta.reload}`);
    }
  });

  it('every number has a unit, and nothing else has one; a range reason comes with its unit', () => {
    for (const [path, key] of keys) {
      const meta = keyMeta(key)!;
      const isNumber = unwrap(key) instanceof z.ZodNumber;
      assert.equal(meta.unit !== undefined, isNumber, `${path}: unit ${String(meta.unit)}`);
      if (meta.limit !== undefined) assert.ok(meta.unit, `${path}: a limit without a unit`);
      if (meta.zeroIsDefault) assert.ok(key instanceof z.ZodDefault && isNumber, `${path}: 0 means the default of a number that has none`);
    }
  });

  it('only stream resource keys are read by upstream kinds, each under its own name', () => {
    const sources = keys.filter(([, key]) => keyMeta(key)!.source !== undefined);
    for (const [path, , parent] of sources) assert.equal(parent, ResourceSchema, `${path} is not a resource key`);
    const names = sources.map(([, key]) => keyMeta(key)!.source);
    assert.equal(new Set(names).size, names.length, 'two keys under one SourceOptions name');
    for (const [path, key] of sources) assert.equal(keyMeta(key)!.reload, 'restart', `${path}: kinds read it when a stream starts`);
  });

  it('a stream resource restarts for every own key but its authentication, checked per request', () => {
    const restart: string[] = keysWhere(ResourceSchema, (m) => m.reload === 'restart');
    assert.deepEqual(Object.keys(ResourceSchema.shape).filter((k) => !restart.includes(k)), ['authentication']);
  });

  it('keysWhere keeps the schema order', () => {
    assert.deepEqual(keysWhere(ConfigSchema, (m) => m.reload === 'refuse'), ['listen', 'tls', 'workers']);
    assert.deepEqual(keysWhere(ConfigSchema, (m) => m.reload === 'startup'), ['logformat', 'log']);
    assert.deepEqual(keysWhere(ConfigSchema, (m) => m.unit === 'connections'), ['maxconnections', 'fullconnections']);
  });

  it('a schema that is no key has no KeyMeta', () => {
    assert.equal(keyMeta(undefined), undefined);
    assert.equal(keyMeta(ConfigSchema), undefined);
    assert.equal(keyMeta(unwrap(ConfigSchema.shape.timeout)), undefined);
  });
});

describe('helpers', () => {
  it('resourceUpstreams: remote first, then remotes', () => {
    assert.deepEqual(resourceUpstreams({ remote: 'a', remotes: ['b', 'c'] }), ['a', 'b', 'c']);
    assert.deepEqual(resourceUpstreams({ remote: undefined, remotes: ['b'] }), ['b']);
    assert.deepEqual(resourceUpstreams({ remote: '', remotes: [] }), []);
  });
  it('resourceUpstreams returns a new list', () => {
    const r = { remote: undefined, remotes: ['b'] };
    resourceUpstreams(r).push('x');
    assert.deepEqual(r.remotes, ['b']);
  });
  it('authUsers: user first, then users, without repeats', () => {
    assert.deepEqual(authUsers({ user: 'a', users: ['b', 'a', 'b'] }), ['a', 'b']);
    assert.deepEqual(authUsers({ user: undefined, users: ['b'] }), ['b']);
    assert.deepEqual(authUsers(undefined), []);
  });
});
