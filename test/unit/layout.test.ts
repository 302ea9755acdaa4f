// The layout rule (README.md, docs/architecture.md "Tests"): unit tests mirror src/, and
// every module of MIN_LINES lines or more has its twin. A module of types only (nothing
// left once TypeScript has erased the types) has no behaviour to test and is exempt;
// that is decided by compiling it, not by a list kept by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '..', '..');
/** Lines counted plainly (blank lines and comments included), as the size lint rules count them. */
const MIN_LINES = 60;

function lineCount(text: string): number {
  if (text === '') return 0;
  const n = text.split('\n').length;
  return text.endsWith('\n') ? n - 1 : n;
}

/** True when the compiled module has no statement left but an empty `export {}`. */
function typesOnly(path: string, text: string): boolean {
  const js = ts.transpileModule(text, {
    fileName: path,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, removeComments: true },
  }).outputText;
  const out = ts.createSourceFile('out.js', js, ts.ScriptTarget.ES2022);
  return out.statements.every((s) => ts.isExportDeclaration(s) && !s.moduleSpecifier
    && s.exportClause !== undefined && ts.isNamedExports(s.exportClause) && s.exportClause.elements.length === 0);
}

/** src/ modules that need a unit test file, as paths relative to src/. */
function modulesNeedingTests(): string[] {
  const files = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .sort();
  return files.filter((f) => {
    const text = readFileSync(join(ROOT, 'src', f), 'utf8');
    return lineCount(text) >= MIN_LINES && !typesOnly(f, text);
  });
}

test('typesOnly tells a module of types from one with runtime code', () => {
  assert.equal(typesOnly('a.ts', "import type { X } from './x.js';\nexport interface A { x: X }\nexport type B = A | string;\n"), true);
  // An import used in types only is erased with them.
  assert.equal(typesOnly('a.ts', "import { X } from './x.js';\nexport type A = X[];\n"), true);
  assert.equal(typesOnly('a.ts', 'export interface A { x: number }\nexport const a = 1;\n'), false);
  assert.equal(typesOnly('a.ts', 'export enum E { A }\n'), false);
  assert.equal(typesOnly('a.ts', "export { f } from './f.js';\n"), false);
  // Modules the rule names as types only are found as such; a module with code is not.
  for (const m of ['stream/contracts.ts', 'status/types.ts']) {
    const p = join(ROOT, 'src', m);
    if (existsSync(p)) assert.equal(typesOnly(m, readFileSync(p, 'utf8')), true, m);
  }
  assert.equal(typesOnly('hub/ring.ts', readFileSync(join(ROOT, 'src/hub/ring.ts'), 'utf8')), false);
});

test('lineCount counts lines as wc -l does, the last one with or without its newline', () => {
  assert.equal(lineCount('a\nb\n'), 2);
  assert.equal(lineCount('a\nb'), 2);
  assert.equal(lineCount(''), 0);
});

test(`every module in src/ of ${MIN_LINES} lines or more (not of types only) has test/unit/<same path>.test.ts`, () => {
  const needed = modulesNeedingTests();
  assert.ok(needed.length > 10, `found ${needed.length} modules: is src/ where it should be?`);
  const missing = needed
    .map((m) => `test/unit/${m.replace(/\.ts$/, '.test.ts')}`)
    .filter((t) => !existsSync(join(ROOT, t)));
  if (missing.length > 0) assert.fail(`${missing.length} module(s) of ${MIN_LINES}+ lines without a unit test file at the mirrored path:\n  ${missing.join('\n  ')}`);
});

/** The rows of docs/architecture.md's module table: the path cell and the whole row. */
function moduleRows(): { path: string; row: string }[] {
  const doc = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');
  const start = doc.indexOf('## Modules');
  const table = doc.slice(start, doc.indexOf('\n## ', start + 1));
  return [...table.matchAll(/^\| `(src\/[^`]*)` [^\n]*$/gm)].map((m) => ({ path: m[1]!, row: m[0] }));
}

test('docs/architecture.md names every module of src/ in the row of its folder, and names none that is gone', () => {
  const rows = moduleRows();
  assert.ok(rows.length > 10, 'the module table was found');
  const files = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const unnamed = files.filter((f) => {
    const [top] = f.split('/');
    const base = f.slice(f.lastIndexOf('/') + 1);
    // A folder's modules are named in its row; a top-level module in any row (cli.ts's names its helpers).
    const own = f.includes('/') ? rows.filter((r) => r.path === `src/${top!}/`) : rows;
    return !own.some((r) => r.path === `src/${f}` || r.row.includes(`\`${base}\``) || r.row.includes(`\`${f}\``));
  });
  assert.deepEqual(unnamed, [], `modules the table does not name: ${unnamed.join(', ')}`);
  const bases = new Set(files.map((f) => f.slice(f.lastIndexOf('/') + 1)));
  const named = rows.flatMap((r) => [...r.row.matchAll(/`(?:[a-z-]+\/)*([a-z0-9-]+\.ts)`/g)].map((m) => m[1]!));
  const gone = named.filter((b) => !bases.has(b));
  assert.deepEqual(gone, [], `the table names modules that do not exist: ${gone.join(', ')}`);
});
