// The error catalogue, its documentation and its use stay together: every code is in
// docs/errors.md with the catalogue's status and meaning, the doc names no other code,
// and every code is raised somewhere in src/ (a code nobody throws cannot come back).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CATALOGUE, RestreamerError, fromSystemError, type ErrorCode } from '../../src/errors.js';
import { ROOT } from '../helpers/proxy.js';

const codes = Object.keys(CATALOGUE) as ErrorCode[];

/** The rows of the table in docs/errors.md, by code. */
function documented(): Map<string, { status: string; meaning: string }> {
  const rows = new Map<string, { status: string; meaning: string }>();
  for (const line of readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8').split('\n')) {
    const m = /^\| `([A-Z0-9_]+)` \| ([^|]*) \| (.*) \|$/.exec(line);
    if (m) rows.set(m[1]!, { status: m[2]!.trim(), meaning: m[3]!.trim() });
  }
  return rows;
}

function row(code: ErrorCode): string {
  const e = CATALOGUE[code];
  return `| \`${code}\` | ${e.status ?? '—'} | ${e.doc} |`;
}

test('every catalogue code is documented in docs/errors.md with its status and meaning', () => {
  const rows = documented();
  for (const code of codes) {
    const r = rows.get(code);
    assert.ok(r, `docs/errors.md has no row for ${code}; add:\n${row(code)}`);
    assert.equal(r.status, String(CATALOGUE[code].status ?? '—'), `${code}: status differs from the catalogue; expected:\n${row(code)}`);
    assert.equal(r.meaning, CATALOGUE[code].doc, `${code}: meaning differs from the catalogue; expected:\n${row(code)}`);
  }
});

test('docs/errors.md names no code the catalogue does not have', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
  const known = new Set<string>(codes);
  const unknown = [...documented().keys()].filter((c) => !known.has(c));
  assert.deepEqual(unknown, [], 'rows for codes not in the catalogue');
  // Also in the prose: anything spelt like a catalogue code must be one.
  const spelt = [...doc.matchAll(/`((?:CLI|CONFIG|LOG|LISTEN|START|RELOAD|UPSTREAM|STREAM|LIMIT|AUTH|STATIC|INTERNAL|WORKER)_[A-Z_]+)`/g)].map((m) => m[1]!);
  assert.deepEqual(spelt.filter((c) => !known.has(c)), []);
});

/** Every .ts file under src/. */
function sources(dir = join(ROOT, 'src')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    return d.isDirectory() ? sources(p) : d.name.endsWith('.ts') ? [p] : [];
  });
}

test('every catalogue code is raised somewhere in src/ (its quoted name outside the declaration)', () => {
  const text = sources().map((f) => readFileSync(f, 'utf8')).join('\n');
  const unused = codes.filter((c) => !text.includes(`'${c}'`));
  assert.deepEqual(unused, [], 'codes nobody raises: use them where that failure happens, or delete them');
});

test('an error is built from its code and parameters; status and message come from the catalogue', () => {
  const e = new RestreamerError('STATIC_TOO_LARGE', { max: 10 });
  assert.equal(e.code, 'STATIC_TOO_LARGE');
  assert.equal(e.status, 502);
  assert.equal(e.message, 'static resource is larger than 10 bytes');
  assert.equal(new RestreamerError('UPSTREAM_NO_SYNC', 'garbage').status, undefined);
  const cause = Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' });
  const dns = fromSystemError(cause, 'GET http://x/');
  assert.equal(dns.code, 'UPSTREAM_DNS');
  assert.equal(dns.message, 'GET http://x/: getaddrinfo ENOTFOUND x');
  assert.equal(dns.cause, cause);
});
