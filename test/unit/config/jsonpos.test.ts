import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findJsonError, firstJsonValueEnd, lineColumn } from '../../../src/config/jsonpos.js';

describe('findJsonError', () => {
  it('accepts valid JSON of every kind', () => {
    for (const text of ['{"a": [1, -2.5e3, true, null, "x\\n\\u00e9"]}', '  {}  ', '[]', '"s"', '0', '-0.5E+2', 'true', 'null', '{"a": {"b": [[], {}]}}']) {
      assert.equal(findJsonError(text), undefined, text);
    }
  });

  it('names the line and column', () => {
    assert.deepEqual(findJsonError('{\n  "a": 1,\n  b: 2\n}'), { offset: 14, line: 3, column: 3, message: 'expected a double-quoted key, found "b"' });
  });

  // Each message as a person editing the file reads it, at the offset it points to.
  const cases: [text: string, offset: number, message: string][] = [
    ['', 0, 'unexpected end of input: expected a value'],
    ['{"a": "x', 6, 'unterminated string (missing closing ")'],
    ['{"a": "x\n"}', 6, 'unterminated string (missing closing ")'],
    ['{"a": "\\u12g4"}', 7, 'invalid \\u escape: expected 4 hex digits'],
    ['{"a": "\\x"}', 7, 'invalid escape "\\x" in string'],
    ['"\\', 1, 'invalid escape "\\" in string'],
    ['{"a": "\t"}', 7, 'control character in string (write tabs as \\t)'],
    ['{"a": -}', 6, 'invalid number'],
    ['{"a": 01}', 7, 'expected "," or "}" after a value, found "1"'],
    ['[1 2]', 3, 'expected "," or "]" after a value, found "2"'],
    ['[1,]', 3, 'unexpected "]": expected a value (trailing comma?)'],
    ['{"a": 1,}', 8, 'expected a double-quoted key, found "}" (trailing comma?)'],
    ["{'a': 1}", 1, 'expected a double-quoted key, found "\'"'],
    ['{"a" 1}', 5, 'expected ":" after the key, found "1"'],
    ['{"a": yes}', 6, 'unexpected "yes": expected a value (strings need double quotes; comments are written as "" keys)'],
    ['{"a": 1} x', 9, 'unexpected "x" after the end of the JSON value'],
    ['{"a": [1', 8, 'expected "," or "]" after a value, found end of input'],
  ];
  for (const [text, offset, message] of cases) {
    it(`${JSON.stringify(text)}: ${message}`, () => {
      const e = findJsonError(text);
      assert.ok(e, 'an error');
      assert.equal(e.message, message);
      assert.equal(e.offset, offset);
    });
  }

  it('stops at 64 levels instead of recursing without end', () => {
    assert.deepEqual(findJsonError('['.repeat(20000)), { offset: 64, line: 1, column: 65, message: 'nested deeper than 64 levels' });
    assert.equal(findJsonError(`${'['.repeat(64)}${']'.repeat(64)}`), undefined);
    assert.match(findJsonError(`{"a":${'{"b":'.repeat(64)}1${'}'.repeat(65)}`)!.message, /nested deeper than 64 levels/);
  });
});

describe('firstJsonValueEnd', () => {
  it('is where the value Go\'s decoder reads ends', () => {
    assert.equal(firstJsonValueEnd('{"a": [1]} {"b": 2}'), 10);
    assert.equal(firstJsonValueEnd('  {}\n'), 4);
    assert.equal(firstJsonValueEnd('1 2'), 1);
    assert.equal(firstJsonValueEnd('"a"x'), 3);
  });
  it('is undefined when the first value itself is not valid', () => {
    assert.equal(firstJsonValueEnd('{"a": } x'), undefined);
    assert.equal(firstJsonValueEnd(''), undefined);
  });
});

describe('lineColumn', () => {
  it('counts lines and columns from 1', () => {
    assert.deepEqual(lineColumn('ab\ncd\n', 0), { line: 1, column: 1 });
    assert.deepEqual(lineColumn('ab\ncd\n', 4), { line: 2, column: 2 });
    assert.deepEqual(lineColumn('ab\ncd\n', 6), { line: 3, column: 1 });
  });
  it('an offset past the end stays on the last line', () => {
    assert.deepEqual(lineColumn('ab', 5), { line: 1, column: 6 });
  });
});
