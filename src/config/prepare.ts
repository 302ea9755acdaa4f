import type { z } from 'zod';
import type { ConfigIssue } from './checks.js';
import {
  API_TYPES, ConfigSchema, DEFAULT_INPUTBUFFER, DEFAULT_MRU, DEFAULT_OUTPUTBUFFER, EVENTS, NOTIFICATION_TYPES, RESOURCE_TYPES,
} from './schema.js';
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
type AnySchema = z.core.$ZodType;
interface Def { type: string; innerType?: AnySchema; in?: AnySchema; shape?: Record<string, AnySchema>; element?: AnySchema; valueType?: AnySchema }

export const defOf = (s: AnySchema): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The schema with optional/default/... wrappers removed. */
export function unwrap(s: AnySchema): AnySchema {
  for (;;) {
    const d = defOf(s);
    if (d.innerType && ['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch'].includes(d.type)) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else return s;
  }
}

/** The keys an object schema knows (own keys only: "constructor" is not one of them). */
export function shapeOf(s: AnySchema | undefined): Record<string, AnySchema> | undefined {
  if (!s) return undefined;
  const d = defOf(unwrap(s));
  return d.type === 'object' ? d.shape : undefined;
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

// Keys whose value 0 the original replaced by its default.
const ZERO_MEANS_DEFAULT: Readonly<Record<string, number>> = { inputbuffer: DEFAULT_INPUTBUFFER, outputbuffer: DEFAULT_OUTPUTBUFFER, mru: DEFAULT_MRU };

/** Drop comments, unknown keys and skipped entries; see the file comment. `root` must be a plain object. */
export function prepare(root: Record<string, unknown>): Prepared {
  const warnings: ConfigIssue[] = [];
  const warn = (path: readonly Segment[], message: string, into = warnings) => into.push({ path: formatPath(path), message });

  const walk = (value: unknown, schema: AnySchema | undefined, path: Segment[], into: ConfigIssue[]): unknown => {
    if (typeof value === 'number' && Object.is(value, -0)) return 0;
    const d = schema ? defOf(unwrap(schema)) : undefined;
    if (Array.isArray(value)) {
      const element = d?.type === 'array' ? d.element : undefined;
      return value.map((v, i) => walk(v, element, [...path, i], into));
    }
    if (!isPlainObject(value)) return value;
    const out: Record<string, unknown> = {};
    if (d?.type === 'object' && d.shape) {
      const shape = d.shape;
      const keys = Object.keys(shape);
      for (const [k, v] of Object.entries(value)) {
        if (k === '') continue; // a comment
        let key = k;
        if (!Object.hasOwn(shape, k)) {
          const match = keys.find((known) => known.toLowerCase() === k.toLowerCase());
          if (!match) {
            const hint = didYouMean(k, keys) || ` (known keys: ${keys.join(', ')})`;
            warn([...path, k], `unknown key${hint}; ignored, as the original did`, into);
            continue;
          }
          warn([...path, k], `read as ${JSON.stringify(match)} (keys are matched ignoring case, as the original did); write ${JSON.stringify(match)}`, into);
          key = match;
        }
        if (v === null) continue; // the default, as in the original
        const field = shape[key]!;
        // "" means "unset" for every optional text key, as in the original (Go's zero value).
        if (v === '' && ['optional', 'default'].includes(defOf(field).type) && ['string', 'enum'].includes(defOf(unwrap(field)).type)) {
          // Go's http.ListenAndServe("") listens on ":http"; the key's default is "localhost:http".
          if (key === 'listen' && path.length === 0) setKey(out, key, ':http');
          continue;
        }
        const fallback = Object.hasOwn(ZERO_MEANS_DEFAULT, key) ? ZERO_MEANS_DEFAULT[key] : undefined;
        if (v === 0 && fallback !== undefined) {
          warn([...path, key], `0 means the default (${fallback}), as in the original; write ${fallback} or leave the key out`, into);
          continue;
        }
        // Entries of these lists are walked one by one below, so a skipped entry adds no noise.
        const deferred = path.length === 0 && (key === 'resources' || key === 'notifications') && Array.isArray(v);
        setKey(out, key, deferred ? v : walk(v, field, [...path, key], into));
      }
      return out;
    }
    const valueSchema = d?.type === 'record' ? d.valueType : undefined;
    for (const [k, v] of Object.entries(value)) {
      if (k !== '') setKey(out, k, walk(v, valueSchema, [...path, k], into));
    }
    return out;
  };

  const top = walk(root, ConfigSchema, [], warnings) as Record<string, unknown>;
  const shape = shapeOf(ConfigSchema)!;

  // Entries the original logged as invalid and skipped; the rest keep a map to their index in the file.
  const entries = (key: 'resources' | 'notifications', skip: (e: Record<string, unknown>, path: Segment[]) => string | undefined) => {
    const index: number[] = [];
    const list = top[key] as unknown[];
    const kept: unknown[] = [];
    list.forEach((raw, i) => {
      const path: Segment[] = [key, i];
      if (raw === null) {
        warn(path, 'null entry skipped, as the original did');
        return;
      }
      const own: ConfigIssue[] = [];
      const e = walk(raw, defOf(unwrap(shape[key]!)).element, path, own);
      const why = isPlainObject(e) ? skip(e, path) : undefined;
      if (why !== undefined) {
        warn(path, why);
        return;
      }
      warnings.push(...own);
      kept.push(e);
      index.push(i);
    });
    setKey(top, key, kept);
    return index;
  };

  const resourceIndex = Object.hasOwn(top, 'resources') && Array.isArray(top.resources) ? entries('resources', (e, path) => {
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
      warn([...path, 'api'], `ignored: only resources of type "api" use "api"`);
      delete e.api;
    }
    return undefined;
  }) : [];

  const notificationIndex = Object.hasOwn(top, 'notifications') && Array.isArray(top.notifications) ? entries('notifications', (e) => {
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
  }) : [];

  const users: [string, unknown][] = [];
  if (Object.hasOwn(top, 'userlist')) {
    const ul = top.userlist;
    if (isPlainObject(ul)) {
      for (const [name, v] of Object.entries(ul)) users.push([name, v]);
      delete top.userlist;
    }
  }
  return { value: top, users, warnings, resourceIndex, notificationIndex };
}

function list(names: readonly string[]): string {
  return names.map((n) => JSON.stringify(n)).join(', ');
}
