import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { z } from 'zod';
import { RestreamerError } from '../errors.js';
import { checkConfig, type ConfigIssue } from './checks.js';
import { findJsonError } from './jsonpos.js';
import { ConfigSchema, type Config } from './schema.js';
import { didYouMean } from './suggest.js';

// Reads restreamer.json: JSON -> strip "" comment keys -> schema (defaults, types,
// unknown keys) -> cross-key checks. Every problem is collected with the JSON path of
// the key to fix, so one run shows them all (schema problems first, then the rest).

export type { ConfigIssue } from './checks.js';

export class ConfigError extends RestreamerError {
  readonly issues: ConfigIssue[];
  constructor(code: 'CONFIG_INVALID' | 'CONFIG_UNREADABLE', issues: ConfigIssue[], source?: string) {
    const where = source ? ` ${source}` : '';
    const head = code === 'CONFIG_UNREADABLE' ? `cannot read configuration${where}` : `invalid configuration${where}`;
    super(code, `${head}:\n${issues.map((i) => `  ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export interface LoadOptions {
  /** Called for things that are allowed but probably not meant (the original accepted them). */
  onWarning?: (warning: ConfigIssue) => void;
}

/** Read, validate and complete (defaults, absolute preamble paths) a restreamer.json. */
export async function loadConfig(path: string, opts: LoadOptions = {}): Promise<Config> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const ex = e as NodeJS.ErrnoException;
    const why = ex.code === 'ENOENT' ? 'no such file' : ex.code === 'EACCES' ? 'permission denied' : ex.code === 'EISDIR' ? 'is a directory' : ex.message;
    throw new ConfigError('CONFIG_UNREADABLE', [{ path: '', message: `${file}: ${why}` }], file);
  }
  return parseInternal(text, dirname(file), opts, file);
}

/** Validate configuration text; `baseDir` resolves relative preamble paths. */
export async function parseConfig(text: string, baseDir: string, opts: LoadOptions = {}): Promise<Config> {
  return parseInternal(text, resolve(baseDir), opts, undefined);
}

async function parseInternal(text: string, baseDir: string, opts: LoadOptions, source: string | undefined): Promise<Config> {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const at = findJsonError(text);
    const message = at ? `invalid JSON at line ${at.line}, column ${at.column}: ${at.message}` : `invalid JSON: ${(e as Error).message}`;
    throw new ConfigError('CONFIG_INVALID', [{ path: '', message }], source);
  }
  const warnings: ConfigIssue[] = [];
  const prepared = prepare(raw, ConfigSchema, [], warnings);
  if (prepared === undefined || prepared === null || typeof prepared !== 'object' || Array.isArray(prepared)) {
    throw new ConfigError('CONFIG_INVALID', [{ path: '', message: `expected a JSON object at the top level, got ${describeValue(prepared)}` }], source);
  }
  const parsed = ConfigSchema.safeParse(prepared, { reportInput: true });
  if (!parsed.success) {
    throw new ConfigError('CONFIG_INVALID', parsed.error.issues.flatMap((i) => formatIssue(i, prepared)), source);
  }
  const config = parsed.data;
  const checked = await checkConfig(config, baseDir);
  if (checked.errors.length) throw new ConfigError('CONFIG_INVALID', checked.errors, source);
  for (const w of [...warnings, ...checked.warnings]) opts.onWarning?.(w);
  return config;
}

type Segment = string | number | symbol;

/** `resources[0].authentication.user`; keys that are not identifiers are quoted: `userlist["bob smith"]`. */
export function formatPath(path: readonly Segment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

// --- comment stripping and key normalisation, guided by the schema's shape ---

type AnySchema = z.core.$ZodType;
type Def = { type: string; innerType?: AnySchema; in?: AnySchema; shape?: Record<string, AnySchema>; element?: AnySchema; valueType?: AnySchema };

const defOf = (s: AnySchema): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The schema with optional/default/... wrappers removed. */
function unwrap(s: AnySchema): AnySchema {
  for (;;) {
    const d = defOf(s);
    if (d.innerType && ['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch'].includes(d.type)) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else return s;
  }
}

/** The schema that validates the value at `path`, when the path follows the schema. */
function schemaAt(root: AnySchema, path: readonly Segment[]): AnySchema | undefined {
  let s: AnySchema | undefined = root;
  for (const seg of path) {
    if (!s) return undefined;
    const d = defOf(unwrap(s));
    if (d.type === 'object' && typeof seg === 'string') s = d.shape && Object.hasOwn(d.shape, seg) ? d.shape[seg] : undefined;
    else if (d.type === 'array') s = d.element;
    else if (d.type === 'record') s = d.valueType;
    else return undefined;
  }
  return s && unwrap(s);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Drop "" comment keys at every depth. Where the schema expects an object, also treat a
 * null value as absent and match keys regardless of case, as Go's JSON decoder did (the
 * last of several spellings wins, like a duplicate key); the latter is reported as a warning.
 */
function prepare(value: unknown, schema: AnySchema | undefined, path: Segment[], warnings: ConfigIssue[]): unknown {
  const d = schema ? defOf(unwrap(schema)) : undefined;
  if (Array.isArray(value)) {
    const element = d?.type === 'array' ? d.element : undefined;
    return value.map((v, i) => prepare(v, element, [...path, i], warnings));
  }
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  if (d?.type === 'object' && d.shape) {
    const shape = d.shape;
    const keys = Object.keys(shape);
    for (const [k, v] of Object.entries(value)) {
      if (k === '' || v === null) continue;
      let key = k;
      if (!Object.hasOwn(shape, k)) {
        const match = keys.find((known) => known.toLowerCase() === k.toLowerCase());
        if (match) {
          warnings.push({ path: formatPath([...path, k]), message: `read as ${JSON.stringify(match)} (keys are matched ignoring case, as the original did); write ${JSON.stringify(match)}` });
          key = match;
        }
      }
      setKey(out, key, prepare(v, shape[key], [...path, key], warnings));
    }
    return out;
  }
  const valueSchema = d?.type === 'record' ? d.valueType : undefined;
  for (const [k, v] of Object.entries(value)) {
    if (k !== '') setKey(out, k, prepare(v, valueSchema, [...path, k], warnings));
  }
  return out;
}

// A plain assignment of "__proto__" would change the prototype instead of adding a key.
function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

// --- turning zod issues into messages a person can act on ---

function valueAt(root: unknown, path: readonly Segment[]): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg as string | number];
  }
  return v;
}

export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)})`;
  if (typeof v === 'number') return `a number (${v})`;
  return String(v);
}

const EXPECTED: Record<string, string> = {
  int: 'an integer', number: 'a number', string: 'a string', boolean: 'true or false',
  array: 'a list', object: 'an object', record: 'an object',
};

// Names for enum keys, so "unknown resource type" reads better than "invalid value".
function enumLabel(path: readonly Segment[]): string {
  const key = path[path.length - 1];
  const parent = path[path.length - 3]; // resources[0].type -> "resources"
  if (parent === 'resources') return key === 'api' ? 'api type' : 'resource type';
  if (parent === 'notifications') return key === 'event' ? 'event' : 'notification type';
  return 'value';
}

function formatIssue(issue: z.core.$ZodIssue, data: unknown): ConfigIssue[] {
  const here = formatPath(issue.path);
  const input = valueAt(data, issue.path);
  const missing = input === undefined && issue.path.length > 0;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const s = schemaAt(ConfigSchema, issue.path);
      const known = s && defOf(s).shape ? Object.keys(defOf(s).shape!) : [];
      return issue.keys.map((k) => {
        const hint = didYouMean(k, known) || (known.length ? ` (known keys: ${known.join(', ')})` : '');
        return { path: formatPath([...issue.path, k]), message: `unknown key${hint}` };
      });
    }
    case 'invalid_type': {
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      return [{ path: here, message: missing ? `missing; expected ${expected}` : `expected ${expected}, got ${describeValue(input)}` }];
    }
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v));
      const options = `expected one of ${values.join(', ')}`;
      if (missing) return [{ path: here, message: `missing; ${options}` }];
      const hint = typeof input === 'string' ? didYouMean(input, issue.values.map(String)) : '';
      return [{ path: here, message: `unknown ${enumLabel(issue.path)} ${JSON.stringify(input)}${hint}; ${options}` }];
    }
    case 'too_small': {
      const bound = issue.inclusive ? `at least ${issue.minimum}` : `greater than ${issue.minimum}`;
      return [{ path: here, message: `${JSON.stringify(input)} is too small; expected ${bound}` }];
    }
    case 'too_big': {
      const bound = issue.inclusive ? `at most ${issue.maximum}` : `less than ${issue.maximum}`;
      return [{ path: here, message: `${JSON.stringify(input)} is too large; expected ${bound}` }];
    }
    case 'invalid_format':
      if (issue.format === 'starts_with') {
        const eg = typeof input === 'string' ? ` (e.g. ${JSON.stringify(`/${input.replace(/^\/*/, '')}`)})` : '';
        return [{ path: here, message: `${JSON.stringify(input)} must start with "/"${eg}` }];
      }
      return [{ path: here, message: issue.message }];
    default:
      return [{ path: here, message: issue.message }];
  }
}
