// ESLint: typescript-eslint's strict and stylistic type-checked rules over what tsconfig.json
// type-checks (src, test, bench, scripts). A rule that does not fit this codebase is
// switched off or relaxed below, with the reason.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'bench/.cache/', 'examples/', 'web/', 'test/fixtures/'] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // With noUncheckedIndexedAccess, `buf[i]!` is how an index that is in range by
      // construction is read on the hot path: no branch, and a wrong index still fails loudly.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // `const { refused: _none, ...rest } = x` is how a key is left out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, varsIgnorePattern: '^_', argsIgnorePattern: '^_' }],
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }],
      }],
      // Numbers in messages and URLs are the norm; objects, undefined and null are still caught.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `() => done()` as a callback and `return send(res, 404)` to end a void handler early
      // are clear; a void value used as a value elsewhere is still caught.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true }],
      // `name || fallback`: an empty string means unset, as in the original's configuration.
      '@typescript-eslint/prefer-nullish-coalescing': ['error', { ignorePrimitives: { string: true } }],
      // `catch (e) { reject(e); }` passes on what was thrown, as it was.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // `on('error', () => {})` deliberately swallows what is handled elsewhere.
      '@typescript-eslint/no-empty-function': ['error', { allow: ['arrowFunctions'] }],
    },
  },
  // The layer rules of docs/architecture.md, enforced. Each list names what a layer may
  // import of ours; a pattern with `!` is an exception to the one before it.
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/cli.js'], message: 'cli.ts is the entry point: nothing imports it.' },
      ] }],
      // Sizes (docs/architecture.md, house rule 9): a file or function past these is asking
      // to be split along a real seam. Counted plainly, comments and blank lines included.
      'max-lines': ['error', { max: 400, skipBlankLines: false, skipComments: false }],
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: false, skipComments: false, IIFEs: true }],
    },
  },
  {
    files: ['src/ts/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['../*', '!../errors.js'], message: 'ts/ is pure MPEG-TS: it imports nothing of ours but errors.' },
      ] }],
    },
  },
  {
    files: ['src/hub/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['../*', '!../ts/', '!../log/', '!../errors.js'], message: 'hub/ imports only ts/, log/ and errors: it takes options, not the config, and writes to a sink.' },
      ] }],
    },
  },
  {
    files: ['src/stream/contracts.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        // ts/ is the pure layer under everything; its data types (a parsed PMT) may appear in a contract.
        { group: ['../*', '!../ts/', './*'], message: 'The stream contracts are types both sides import: they import no concrete module (only ts/ data types).' },
      ] }],
    },
  },
  {
    files: ['src/cluster/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['../roles/*', '**/cli.js'], message: 'cluster/ runs the processes; it reaches the configuration through PrimaryHost/WorkerHost, never a role.' },
      ] }],
    },
  },
  {
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
