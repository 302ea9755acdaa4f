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
  const s = new Scanner(text);
  try {
    s.value();
    const end = s.i;
    s.ws();
    if (whole && s.i < text.length) s.fail(`unexpected ${s.describe()} after the end of the JSON value`);
    return { end };
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    return { error: { offset: e.offset, ...lineColumn(text, e.offset), message: e.message }, end: e.offset };
  }
}

/** A recursive descent over JSON that only checks it, throwing Stop at the first fault. */
class Scanner {
  /** The offset read next. */
  i = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  fail(message: string, at = this.i): never {
    throw new Stop(at, message);
  }

  /** What is at the offset, for a message: a whole word, one character, or the end. */
  describe(): string {
    const { text, i } = this;
    if (i >= text.length) return 'end of input';
    const word = /[A-Za-z_][A-Za-z0-9_]*/y;
    word.lastIndex = i;
    return JSON.stringify(word.exec(text)?.[0] ?? text[i]);
  }

  ws(): void {
    while (this.i < this.text.length && ' \t\r\n'.includes(this.text[this.i]!)) this.i++;
  }

  value(): void {
    this.ws();
    const { text, i } = this;
    const c = text[i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) { this.i += word.length; return; }
    }
    if (c === undefined) this.fail('unexpected end of input: expected a value');
    if (c === '}' || c === ']') this.fail(`unexpected ${this.describe()}: expected a value (trailing comma?)`);
    this.fail(`unexpected ${this.describe()}: expected a value (strings need double quotes; comments are written as "" keys)`);
  }

  private number(): void {
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.text);
    if (!m) this.fail('invalid number');
    this.i += m[0].length;
  }

  private string(): void {
    const text = this.text;
    const start = this.i++;
    for (;;) {
      const c = text[this.i];
      if (c === undefined || c === '\n') this.fail('unterminated string (missing closing ")', start);
      if (c === '"') { this.i++; return; }
      if (c === '\\') {
        this.escape();
        continue;
      }
      if (c.charCodeAt(0) < 0x20) this.fail('control character in string (write tabs as \\t)');
      this.i++;
    }
  }

  private escape(): void {
    const e = this.text[this.i + 1];
    if (e === 'u') {
      if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.i + 2, this.i + 6))) this.fail('invalid \\u escape: expected 4 hex digits');
      this.i += 6;
    } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
      this.i += 2;
    } else {
      this.fail(`invalid escape "\\${e ?? ''}" in string`);
    }
  }

  private enter(): void {
    if (++this.depth > MAX_SCAN_DEPTH) this.fail(`nested deeper than ${MAX_SCAN_DEPTH} levels`);
    this.i++;
    this.ws();
  }

  /** Past the closing bracket `close` when it is next (an empty container or the last item). */
  private leave(close: '}' | ']'): boolean {
    if (this.text[this.i] !== close) return false;
    this.i++;
    this.depth--;
    return true;
  }

  private object(): void {
    this.enter();
    if (this.leave('}')) return;
    for (;;) {
      this.ws();
      if (this.text[this.i] !== '"') this.fail(`expected a double-quoted key, found ${this.describe()}${this.text[this.i] === '}' ? ' (trailing comma?)' : ''}`);
      this.string();
      this.ws();
      if (this.text[this.i] !== ':') this.fail(`expected ":" after the key, found ${this.describe()}`);
      this.i++;
      this.value();
      this.ws();
      if (this.text[this.i] === ',') { this.i++; continue; }
      if (this.leave('}')) return;
      this.fail(`expected "," or "}" after a value, found ${this.describe()}`);
    }
  }

  private array(): void {
    this.enter();
    if (this.leave(']')) return;
    for (;;) {
      this.value();
      this.ws();
      if (this.text[this.i] === ',') { this.i++; continue; }
      if (this.leave(']')) return;
      this.fail(`expected "," or "]" after a value, found ${this.describe()}`);
    }
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
