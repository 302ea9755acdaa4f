// Where a JSON text goes wrong. JSON.parse only sometimes says where (and only as a
// character offset), so after it fails this small scanner finds the offending spot and
// names it in words a person editing the file can act on.

export interface JsonSyntaxError {
  offset: number;
  line: number;
  column: number;
  message: string;
}

class Stop extends Error {
  constructor(readonly offset: number, message: string) { super(message); }
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/** Deepest nesting the scanner follows (it recurses); deeper input is reported, not followed. */
const MAX_SCAN_DEPTH = 64;

/** The first syntax error in `text`, or undefined when it is valid JSON. */
export function findJsonError(text: string): JsonSyntaxError | undefined {
  return scan(text, true).error;
}

/**
 * Where the first JSON value of `text` ends (what Go's json.Decoder reads: the original
 * ignores anything after it), or undefined when that first value itself is not valid.
 */
export function firstJsonValueEnd(text: string): number | undefined {
  const r = scan(text, false);
  return r.error ? undefined : r.end;
}

function scan(text: string, whole: boolean): { error?: JsonSyntaxError; end: number } {
  let i = 0;
  let depth = 0;
  const fail = (message: string, at = i): never => {
    throw new Stop(at, message);
  };
  const describe = (): string => {
    if (i >= text.length) return 'end of input';
    const word = /[A-Za-z_][A-Za-z0-9_]*/y;
    word.lastIndex = i;
    return JSON.stringify(word.exec(text)?.[0] ?? text[i]);
  };
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const string = () => {
    const start = i++;
    for (;;) {
      const c = text[i];
      if (c === undefined || c === '\n') fail('unterminated string (missing closing ")', start);
      if (c === '"') { i++; return; }
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('invalid \\u escape: expected 4 hex digits');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i += 2;
        } else {
          fail(`invalid escape "\\${e ?? ''}" in string`);
        }
        continue;
      }
      if (c!.charCodeAt(0) < 0x20) fail('control character in string (write tabs as \\t)');
      i++;
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m) fail('invalid number');
      i += m![0].length;
      return;
    }
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) { i += word.length; return; }
    }
    if (c === undefined) fail('unexpected end of input: expected a value');
    if (c === '}' || c === ']') fail(`unexpected ${describe()}: expected a value (trailing comma?)`);
    fail(`unexpected ${describe()}: expected a value (strings need double quotes; comments are written as "" keys)`);
  };
  const enter = () => {
    if (++depth > MAX_SCAN_DEPTH) fail(`nested deeper than ${MAX_SCAN_DEPTH} levels`);
  };
  const object = () => {
    enter();
    i++;
    ws();
    if (text[i] === '}') { i++; depth--; return; }
    for (;;) {
      ws();
      if (text[i] !== '"') fail(`expected a double-quoted key, found ${describe()}${text[i] === '}' ? ' (trailing comma?)' : ''}`);
      string();
      ws();
      if (text[i] !== ':') fail(`expected ":" after the key, found ${describe()}`);
      i++;
      value();
      ws();
      if (text[i] === ',') { i++; continue; }
      if (text[i] === '}') { i++; depth--; return; }
      fail(`expected "," or "}" after a value, found ${describe()}`);
    }
  };
  const array = () => {
    enter();
    i++;
    ws();
    if (text[i] === ']') { i++; depth--; return; }
    for (;;) {
      value();
      ws();
      if (text[i] === ',') { i++; continue; }
      if (text[i] === ']') { i++; depth--; return; }
      fail(`expected "," or "]" after a value, found ${describe()}`);
    }
  };
  try {
    value();
    const end = i;
    ws();
    if (whole && i < text.length) fail(`unexpected ${describe()} after the end of the JSON value`);
    return { end };
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    return { error: { offset: e.offset, ...lineColumn(text, e.offset), message: e.message }, end: e.offset };
  }
}

/** 1-based line and column of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = 0; k < offset && k < text.length; k++) {
    if (text.charCodeAt(k) === 10) { line++; lineStart = k + 1; }
  }
  return { line, column: offset - lineStart + 1 };
}
