import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { z } from 'zod';
import { RestreamerError } from '../errors.js';
import { byDocumentOrder, checkConfig, type ConfigIssue } from './checks.js';
import { findJsonError, firstJsonValueEnd, lineColumn } from './jsonpos.js';
import { MAX_DEPTH, childOf, formatPath, isPlainObject, prepare, setKey, shapeOf, tooDeep } from './prepare.js';
import { ConfigSchema, UserSchema, keyMeta, type Config } from './schema.js';
import { didYouMean } from './suggest.js';

// Reads restreamer.json: JSON (first value) -> prepare (comments, unknown keys and
// skipped entries dropped with warnings) -> schema (defaults, types, ranges) ->
// cross-key checks (more warnings, and the few refusals). Every problem carries the JSON
// path of the key to fix, so one run shows them all. Anything that is not a ConfigError
// escaping from here is a bug: the fuzz test in test/unit/config/load-fuzz.test.ts holds that.

export type { ConfigIssue } from './checks.js';

export class ConfigError extends RestreamerError {
  readonly issues: ConfigIssue[];
  constructor(code: 'CONFIG_INVALID' | 'CONFIG_UNREADABLE', issues: ConfigIssue[], source?: string, note = '') {
    const where = source ? ` ${source}` : '';
    const head = code === 'CONFIG_UNREADABLE' ? `cannot read configuration${where}` : `invalid configuration${where}${note}`;
    super(code, `${head}:\n${issues.map((i) => `  ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export interface LoadOptions {
  /** Called for things that are allowed but probably not meant (the original accepted them). */
  onWarning?: (warning: ConfigIssue) => void;
  /** Refuse the configuration when there is any warning (--strict). */
  strict?: boolean;
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

function parseJson(text: string, warnings: ConfigIssue[], source: string | undefined): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    // Go's json.Decoder reads the first value and never looks further: so do we, with a warning.
    const end = firstJsonValueEnd(text);
    if (end !== undefined && end < text.length) {
      const at = lineColumn(text, end + (/^\s*/.exec(text.slice(end))?.[0].length ?? 0));
      warnings.push({ path: '', message: `data after the end of the JSON value (line ${at.line}, column ${at.column}) ignored, as the original did` });
      return JSON.parse(text.slice(0, end));
    }
    const at = findJsonError(text);
    const message = at ? `invalid JSON at line ${at.line}, column ${at.column}: ${at.message}` : `invalid JSON: ${(e as Error).message}`;
    throw new ConfigError('CONFIG_INVALID', [{ path: '', message }], source);
  }
}

async function parseInternal(text: string, baseDir: string, opts: LoadOptions, source: string | undefined): Promise<Config> {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const warnings: ConfigIssue[] = [];
  const raw = parseJson(text, warnings, source);
  const fail = (issues: ConfigIssue[]): never => {
    throw new ConfigError('CONFIG_INVALID', issues, source);
  };
  if (!isPlainObject(raw)) fail([{ path: '', message: `expected a JSON object at the top level, got ${describeValue(raw)}` }]);
  const deep = tooDeep(raw);
  if (deep !== undefined) fail([{ path: deep, message: `nested deeper than ${MAX_DEPTH} levels; restreamer.json needs 5 at most` }]);

  const prepared = prepare(raw as Record<string, unknown>);
  warnings.push(...prepared.warnings);
  // Paths from the schema and the checks count the kept entries; the person editing the file counts all.
  const remap = (i: ConfigIssue): ConfigIssue => ({
    ...i,
    path: i.path.replace(/^(resources|notifications)\[(\d+)\]/, (_, key: string, n: string) =>
      `${key}[${(key === 'resources' ? prepared.resourceIndex : prepared.notificationIndex)[Number(n)] ?? n}]`),
  });

  const users = validateUsers(prepared.users, warnings);
  const parsed = ConfigSchema.safeParse(prepared.value, { reportInput: true });
  const schemaErrors = [...users.errors, ...(parsed.success ? [] : parsed.error.issues.flatMap((i) => formatIssue(i, prepared.value)).map(remap))];
  if (schemaErrors.length || !parsed.success) fail(schemaErrors);
  const config = parsed.data!;
  config.userlist = users.list;

  const checked = await checkConfig(config, baseDir, users.noPassword);
  const errors = checked.errors.map(remap);
  warnings.push(...checked.warnings.map(remap));
  warnings.sort(byDocumentOrder);
  if (errors.length) fail(errors);
  if (opts.strict && warnings.length) {
    throw new ConfigError('CONFIG_INVALID', warnings, source, ' (strict: every warning is an error)');
  }
  for (const w of warnings) opts.onWarning?.(w);
  return config;
}

/**
 * The userlist, validated entry by entry into an object without a prototype, so a user
 * may be called "constructor" or "__proto__" and a lookup of a name nobody configured
 * finds nothing. An entry without a password is dropped with a warning: that user
 * cannot log in (the original let it in with an empty password).
 */
function validateUsers(entries: [string, unknown][], warnings: ConfigIssue[]): { list: Config['userlist']; errors: ConfigIssue[]; noPassword: Set<string> } {
  const list = Object.create(null) as Config['userlist'];
  const errors: ConfigIssue[] = [];
  const noPassword = new Set<string>();
  for (const [name, value] of entries) {
    const path = ['userlist', name];
    if (value === null || (isPlainObject(value) && !Object.hasOwn(value, 'password'))) {
      warnings.push({ path: formatPath(path), message: 'no "password": this user cannot log in' });
      noPassword.add(name);
      continue;
    }
    const r = UserSchema.safeParse(value, { reportInput: true });
    if (r.success) setKey(list, name, r.data);
    else errors.push(...r.error.issues.flatMap((i) => formatIssue({ ...i, path: [...path, ...i.path] }, { userlist: { [name]: value } })));
  }
  return { list, errors, noPassword };
}

// --- turning zod issues into messages a person can act on ---

type Segment = string | number | symbol;

/** The schema at `path`, when the path follows the schema. */
function schemaAt(path: readonly Segment[]): z.core.$ZodType | undefined {
  let s: z.core.$ZodType | undefined = ConfigSchema;
  for (const seg of path) s = childOf(s, seg);
  return s;
}

/** The keys of the object schema at `path`, when the path follows the schema. */
const shapeAt = (path: readonly Segment[]) => shapeOf(schemaAt(path));

function valueAt(root: unknown, path: readonly Segment[]): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object' || typeof seg === 'symbol' || !Object.hasOwn(v, seg)) return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)})`;
  if (typeof v === 'number') return `a number (${v})`;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- what is left (boolean, bigint, symbol, function) prints usefully
  return String(v);
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JSON.stringify gives undefined for undefined and functions
const shown = (v: unknown): string => (typeof v === 'number' ? String(v) : JSON.stringify(v) ?? String(v));

// Why a bound is where it is, for the keys where that is not obvious (their KeyMeta.limit).
function rangeNote(path: readonly Segment[]): string {
  const meta = keyMeta(schemaAt(path));
  return meta?.limit ? ` ${meta.unit ?? ''} (${meta.limit})` : '';
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
      const known = Object.keys(shapeAt(issue.path) ?? {});
      return issue.keys.map((k) => {
        const hint = didYouMean(k, known) || (known.length ? ` (known keys: ${known.join(', ')})` : '');
        return { path: formatPath([...issue.path, k]), message: `unknown key${hint}` };
      });
    }
    case 'invalid_type': {
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      if (typeof input === 'number' && !Number.isFinite(input)) return [{ path: here, message: 'number too large (beyond what JSON numbers can hold here)' }];
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
      if (issue.origin === 'string' && issue.path[issue.path.length - 1] === 'serve') {
        return [{ path: here, message: 'empty; expected a path such as "/live.ts" (the original\'s http.ServeMux panicked on an empty one)' }];
      }
      const bound = issue.inclusive ? `at least ${issue.minimum}` : `greater than ${issue.minimum}`;
      return [{ path: here, message: `${shown(input)} is too small; expected ${bound}${rangeNote(issue.path)}` }];
    }
    case 'too_big': {
      const bound = issue.inclusive ? `at most ${issue.maximum}` : `less than ${issue.maximum}`;
      return [{ path: here, message: `${shown(input)} is too large; expected ${bound}${rangeNote(issue.path)}` }];
    }
    case 'custom':
      return [{ path: here, message: issue.message.startsWith('must ') ? `${shown(input)} ${issue.message}` : issue.message }];
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
