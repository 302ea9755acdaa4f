import { z } from 'zod';
import type { ConfigIssue } from './checks.js';
import { API_TYPES, ConfigSchema, EVENTS, NOTIFICATION_TYPES, RESOURCE_TYPES, keyMeta } from './schema.js';
import { didYouMean } from './suggest.js';

// The lenient first pass over the parsed JSON, before the schema sees it: everything the
// Go original ignored or skipped is dropped here with a warning naming its JSON path,
// so the schema only judges what the original judged too. Nothing here assigns a key
// by `obj[key] = ...` or reads one without Object.hasOwn, so keys named like
// Object.prototype members ("__proto__", "constructor") are plain data, and nothing
// recurses deeper than MAX_DEPTH (checked first, without recursion).

/** Deepest nesting accepted. restreamer.json needs 5 (resources[0].authentication.users[0]); comments get the rest. */
export const MAX_DEPTH = 64;

type Segment = string | number;
type Schema = z.core.$ZodType;

/** The schema with optional/default/... wrappers removed. */
export function unwrap(s: Schema): Schema {
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodNullable || s instanceof z.ZodReadonly || s instanceof z.ZodCatch) s = s.unwrap();
    else if (s instanceof z.ZodPipe) s = s.in;
    else return s;
  }
}

/** The keys an object schema knows (own keys only: "constructor" is not one of them). */
export function shapeOf(s: Schema | undefined): Record<string, Schema> | undefined {
  const u = s && unwrap(s);
  return u instanceof z.ZodObject ? u.shape : undefined;
}

const elementOf = (s: Schema | undefined): Schema | undefined => {
  const u = s && unwrap(s);
  return u instanceof z.ZodArray ? u.element : undefined;
};

const recordValueOf = (s: Schema | undefined): Schema | undefined => {
  const u = s && unwrap(s);
  return u instanceof z.ZodRecord ? u.valueType : undefined;
};

/** The schema of `seg` inside a value of schema `s`: an object's key, an array's element, a record's value. */
export function childOf(s: Schema | undefined, seg: Segment | symbol): Schema | undefined {
  const shape = shapeOf(s);
  if (shape) return typeof seg === 'string' && Object.hasOwn(shape, seg) ? shape[seg] : undefined;
  return elementOf(s) ?? recordValueOf(s);
}

/** `resources[0].authentication.user`; keys that are not identifiers are quoted: `userlist["bob smith"]`. */
export function formatPath(path: readonly (Segment | symbol)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// A plain assignment of "__proto__" would change the prototype instead of adding a key.
export function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

const ownValue = (obj: Record<string, unknown>, key: string): unknown => (Object.hasOwn(obj, key) ? obj[key] : undefined);

/**
 * The path of the first value nested deeper than MAX_DEPTH, or undefined. Iterative:
 * JSON.parse accepts any depth, and this is what keeps every later recursive step safe.
 */
export function tooDeep(root: unknown): string | undefined {
  interface Node { v: unknown; depth: number; seg: Segment | undefined; parent: Node | undefined }
  const stack: Node[] = [{ v: root, depth: 0, seg: undefined, parent: undefined }];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.v === null || typeof n.v !== 'object') continue;
    if (n.depth + 1 > MAX_DEPTH) {
      const path: Segment[] = [];
      for (let p: Node | undefined = n; p?.seg !== undefined; p = p.parent) path.unshift(p.seg);
      return path.length > 8 ? `${formatPath(path.slice(0, 6))}...` : formatPath(path);
    }
    if (Array.isArray(n.v)) n.v.forEach((v, i) => stack.push({ v, depth: n.depth + 1, seg: i, parent: n }));
    else for (const [k, v] of Object.entries(n.v)) stack.push({ v, depth: n.depth + 1, seg: k, parent: n });
  }
  return undefined;
}

export interface Prepared {
  /** The top-level object, ready for the schema (without `userlist`). */
  value: Record<string, unknown>;
  /** userlist entries as written (after key normalisation), for validation one by one. */
  users: [name: string, value: unknown][];
  warnings: ConfigIssue[];
  /** Index in the file of each kept entry of `resources` / `notifications`. */
  resourceIndex: number[];
  notificationIndex: number[];
}

/** Drop comments, unknown keys and skipped entries; see the file comment. `root` must be a plain object. */
export function prepare(root: Record<string, unknown>): Prepared {
  const warnings: ConfigIssue[] = [];
  const top = walk(root, ConfigSchema, [], warnings) as Record<string, unknown>;
  const resourceIndex = keepEntries(top, 'resources', (e, path) => skipResource(e, path, warnings), warnings);
  const notificationIndex = keepEntries(top, 'notifications', skipNotification, warnings);
  const users: [string, unknown][] = [];
  if (Object.hasOwn(top, 'userlist') && isPlainObject(top.userlist)) {
    for (const [name, v] of Object.entries(top.userlist)) users.push([name, v]);
    delete top.userlist;
  }
  return { value: top, users, warnings, resourceIndex, notificationIndex };
}

const warn = (into: ConfigIssue[], path: readonly Segment[], message: string) => into.push({ path: formatPath(path), message });

/** `value` with what the original ignored dropped (warnings into `into`); `schema` is what it should be, if known. */
function walk(value: unknown, schema: Schema | undefined, path: Segment[], into: ConfigIssue[]): unknown {
  if (typeof value === 'number' && Object.is(value, -0)) return 0;
  if (Array.isArray(value)) {
    const element = elementOf(schema);
    return value.map((v, i) => walk(v, element, [...path, i], into));
  }
  if (!isPlainObject(value)) return value;
  const shape = shapeOf(schema);
  if (shape) return walkObject(value, shape, path, into);
  const valueSchema = recordValueOf(schema);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k !== '') setKey(out, k, walk(v, valueSchema, [...path, k], into));
  }
  return out;
}

function walkObject(value: Record<string, unknown>, shape: Record<string, Schema>, path: Segment[], into: ConfigIssue[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === '') continue; // a comment
    const key = knownKey(k, shape, path, into);
    if (key === undefined || v === null) continue; // null: the default, as in the original
    const field = shape[key]!;
    if (v === '' && emptyIsUnset(field)) {
      // Go's http.ListenAndServe("") listens on ":http"; the key's default is "localhost:http".
      if (key === 'listen' && path.length === 0) setKey(out, key, ':http');
      continue;
    }
    const fallback = keyMeta(field)?.zeroIsDefault && field instanceof z.ZodDefault ? field.def.defaultValue : undefined;
    if (v === 0 && typeof fallback === 'number') {
      warn(into, [...path, key], `0 means the default (${fallback}), as in the original; write ${fallback} or leave the key out`);
      continue;
    }
    // Entries of these lists are walked one by one by keepEntries, so a skipped entry adds no noise.
    const deferred = path.length === 0 && (key === 'resources' || key === 'notifications') && Array.isArray(v);
    setKey(out, key, deferred ? v : walk(v, field, [...path, key], into));
  }
  return out;
}

/** The schema's name for key `k`, matched ignoring case (with a warning) as the original did; undefined (warned) if unknown. */
function knownKey(k: string, shape: Record<string, Schema>, path: Segment[], into: ConfigIssue[]): string | undefined {
  if (Object.hasOwn(shape, k)) return k;
  const keys = Object.keys(shape);
  const match = keys.find((known) => known.toLowerCase() === k.toLowerCase());
  if (!match) {
    const hint = didYouMean(k, keys) || ` (known keys: ${keys.join(', ')})`;
    warn(into, [...path, k], `unknown key${hint}; ignored, as the original did`);
    return undefined;
  }
  warn(into, [...path, k], `read as ${JSON.stringify(match)} (keys are matched ignoring case, as the original did); write ${JSON.stringify(match)}`);
  return match;
}

/** "" means "unset" for every optional text key, as in the original (Go's zero value). */
const emptyIsUnset = (field: Schema): boolean => {
  const inner = unwrap(field);
  return (field instanceof z.ZodOptional || field instanceof z.ZodDefault) && (inner instanceof z.ZodString || inner instanceof z.ZodEnum);
};

/**
 * Walk the entries of `top[key]` one by one, dropping (with a warning) those the original
 * logged as invalid and skipped: null ones and those `skip` gives a reason for. Returns
 * the index in the file of each kept entry.
 */
function keepEntries(top: Record<string, unknown>, key: 'resources' | 'notifications', skip: (e: Record<string, unknown>, path: Segment[]) => string | undefined, warnings: ConfigIssue[]): number[] {
  const list = Object.hasOwn(top, key) ? top[key] : undefined;
  if (!Array.isArray(list)) return [];
  const element = elementOf(ConfigSchema.shape[key]);
  const index: number[] = [];
  const kept: unknown[] = [];
  list.forEach((raw: unknown, i) => {
    const path: Segment[] = [key, i];
    if (raw === null) {
      warn(warnings, path, 'null entry skipped, as the original did');
      return;
    }
    const own: ConfigIssue[] = [];
    const e = walk(raw, element, path, own);
    const why = isPlainObject(e) ? skip(e, path) : undefined;
    if (why !== undefined) {
      warn(warnings, path, why);
      return;
    }
    warnings.push(...own);
    kept.push(e);
    index.push(i);
  });
  setKey(top, key, kept);
  return index;
}

function skipResource(e: Record<string, unknown>, path: Segment[], warnings: ConfigIssue[]): string | undefined {
  const type = ownValue(e, 'type');
  if (type === undefined) return `skipped: no "type" (one of ${list(RESOURCE_TYPES)}), as the original skipped it`;
  if (typeof type === 'string' && !(RESOURCE_TYPES as readonly string[]).includes(type)) {
    return `skipped: unknown resource type ${JSON.stringify(type)}${didYouMean(type, RESOURCE_TYPES)}; expected one of ${list(RESOURCE_TYPES)} (the original logged it and went on)`;
  }
  const api = ownValue(e, 'api');
  if (type === 'api') {
    if (api === undefined) return `skipped: a resource of type "api" needs "api", one of ${list(API_TYPES)} (the original logged it and went on)`;
    if (typeof api === 'string' && !(API_TYPES as readonly string[]).includes(api)) {
      return `skipped: unknown api type ${JSON.stringify(api)}${didYouMean(api, API_TYPES)}; expected one of ${list(API_TYPES)} (the original logged it and went on)`;
    }
  } else if (api !== undefined) {
    warn(warnings, [...path, 'api'], `ignored: only resources of type "api" use "api"`);
    delete e.api;
  }
  return undefined;
}

function skipNotification(e: Record<string, unknown>): string | undefined {
  const event = ownValue(e, 'event');
  if (event === undefined) return `skipped: no "event" (one of ${list(EVENTS)}), as the original skipped it`;
  if (typeof event === 'string' && !(EVENTS as readonly string[]).includes(event)) {
    return `skipped: unknown event ${JSON.stringify(event)}${didYouMean(event, EVENTS)}; expected one of ${list(EVENTS)} (the original logged it and went on)`;
  }
  const type = ownValue(e, 'type');
  if (typeof type === 'string' && !(NOTIFICATION_TYPES as readonly string[]).includes(type)) {
    return `skipped: unknown notification type ${JSON.stringify(type)}${didYouMean(type, NOTIFICATION_TYPES)}; expected "url" (the original logged it and went on)`;
  }
  return undefined;
}

function list(names: readonly string[]): string {
  return names.map((n) => JSON.stringify(n)).join(', ');
}
