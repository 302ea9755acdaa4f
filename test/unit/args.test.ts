// The command line: what each argument list asks for, and the message of each mistake
// (src/cli.ts prints them with "restreamer: " in front).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HELP, parseCommandLine } from '../../src/args.js';

function options(argv: string[]) {
  const c = parseCommandLine(argv);
  assert.equal(c.kind, 'run', JSON.stringify(c));
  return c.options;
}

/** A mistake: its message, and whether the help follows; a usage error unless `code` says otherwise. */
function error(argv: string[], code = 'CLI_USAGE'): { message: string; usage: boolean } {
  const c = parseCommandLine(argv);
  assert.equal(c.kind, 'error', JSON.stringify(c));
  assert.equal(c.error.code, code);
  return { message: c.error.message, usage: c.usage };
}

test('no arguments: run with the defaults and no CONFIG', () => {
  assert.deepEqual(options([]), { check: false, strict: false, demo: false, config: undefined });
});

test('flags, values (after a space or "="), and CONFIG in any order', () => {
  assert.deepEqual(options(['--check', 'x.json', '--strict', '--log-format', 'json', '--listen=:8080']),
    { check: true, strict: true, demo: false, listen: ':8080', logFormat: 'json', config: 'x.json' });
  assert.deepEqual(options(['--demo', '--listen', '127.0.0.1:0']), { check: false, strict: false, demo: true, listen: '127.0.0.1:0', config: undefined });
  // The last of a repeated option wins.
  assert.equal(options(['--listen', ':1', '--listen', ':2']).listen, ':2');
});

test('--help and --version, long or short, decide at once, in argument order', () => {
  for (const a of ['--help', '-h']) assert.deepEqual(parseCommandLine(['x.json', a]), { kind: 'help' });
  for (const a of ['--version', '-V']) assert.deepEqual(parseCommandLine([a, '--help']), { kind: 'version' });
  // A mistake before them is reported; one after them is not read.
  assert.equal(parseCommandLine(['--frobnicate', '--help']).kind, 'error');
  assert.deepEqual(parseCommandLine(['--help', '--frobnicate']), { kind: 'help' });
});

test('an unknown option is named as typed, with the help', () => {
  for (const a of ['--frobnicate', '-x', '--frob=1', '--check=yes', '--help=1', '-hV', '--', '-', '--Check']) {
    assert.deepEqual(error([a, 'x.json']), { message: `unknown option ${a}`, usage: true }, a);
  }
});

test('an option without its value says so, with the help', () => {
  assert.deepEqual(error(['--listen']), { message: '--listen needs a value', usage: true });
  assert.deepEqual(error(['x.json', '--log-format']), { message: '--log-format needs a value', usage: true });
});

test('the next argument is the value, even when it looks like an option (as before: no guessing)', () => {
  assert.deepEqual(error(['--listen', '--check'], 'CONFIG_INVALID').message.split(':')[0], '--listen');
  assert.equal(options(['--listen', ':8000', '--check']).check, true);
});

test('bad values: the listen address and the log format', () => {
  // A listen address that cannot work is a configuration error, wherever it is given.
  const listen = error(['--listen', 'nonsense'], 'CONFIG_INVALID');
  assert.match(listen.message, /^--listen: invalid listen address "nonsense": missing ":port"/);
  assert.equal(listen.usage, false);
  assert.deepEqual(error(['--log-format=xml']), { message: '--log-format must be one of auto, json, pretty, restreamer, not "xml"', usage: false });
});

test('two CONFIG arguments are refused', () => {
  assert.deepEqual(error(['a.json', 'b.json']), { message: 'only one CONFIG may be given', usage: false });
});

test('the help names every option it accepts', () => {
  for (const o of ['--check', '--strict', '--demo', '--listen ADDR', '--log-format FORMAT', '--version', '--help']) {
    assert.match(HELP, new RegExp(`^  ${o} `, 'm'), o);
    const name = o.split(' ')[0]!;
    const value = o.includes(' ') ? ['x'] : [];
    const c = parseCommandLine([name, ...value]);
    assert.ok(c.kind !== 'error' || !c.error.message.startsWith('unknown option'), `${name} is accepted`);
  }
});
