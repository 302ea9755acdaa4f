// The examples of command output in README.md and docs/ are the program's own words. A
// fenced block right after one or more markers
//
//   <!-- doc-test: restreamer ARGS [| SHOWN=ACTUAL ...] -->
//
// must equal what those commands print, in order (each: its stderr, then its stdout when
// it exits 0), so a change of wording fails here instead of leaving the docs behind.
// ARGS are split on spaces. SHOWN=ACTUAL says what the doc shows in place of what the
// test uses: a path in this repository (the doc's /etc/restreamer.json is a fixture), or
// `busy-port` (a port held busy on localhost while the command runs). SHOWN becomes ACTUAL
// in the arguments; ACTUAL (absolute, then as written) becomes SHOWN in the output. That
// is the only normalisation: paths and ports are what differs between machines.
// A block of program output (a line starting "restreamer: ") without a marker fails too.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { ROOT, runCli } from '../helpers/proxy.js';

interface Command { args: string[]; subst: [shown: string, actual: string][] }
interface Block { where: string; commands: Command[]; expected: string }

const MARKER = /^\s*<!-- doc-test: restreamer (.*?)(?: \| (.*?))? -->\s*$/;
const FENCE = /^(\s*)```/;

function parseMarker(line: string): Command | undefined {
  const m = MARKER.exec(line);
  if (!m) return undefined;
  const subst = (m[2] ?? '').split(' ').filter(Boolean).map((pair): [string, string] => {
    const eq = pair.indexOf('=');
    assert.ok(eq > 0, `"${pair}" in ${line.trim()}: expected SHOWN=ACTUAL`);
    return [pair.slice(0, eq), pair.slice(eq + 1)];
  });
  return { args: m[1]!.split(' ').filter(Boolean), subst };
}

/** The marked blocks of one Markdown file; unmarked blocks of program output are reported. */
function blocksOf(file: string, unmarked: string[]): Block[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  let commands: Command[] = [];
  for (let i = 0; i < lines.length; i++) {
    const marker = parseMarker(lines[i]!);
    if (marker) { commands.push(marker); continue; }
    const fence = FENCE.exec(lines[i]!);
    if (!fence) { commands = []; continue; }
    const indent = fence[1]!.length;
    const body: string[] = [];
    for (i++; i < lines.length && !FENCE.test(lines[i]!); i++) body.push(lines[i]!.slice(indent));
    const where = `${file}:${i - body.length}`;
    if (commands.length) blocks.push({ where, commands, expected: body.join('\n') });
    else if (body.some((l) => l.startsWith('restreamer: '))) unmarked.push(where);
    commands = [];
  }
  return blocks;
}

const unmarked: string[] = [];
const files = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const blocks = files.flatMap((f) => blocksOf(f, unmarked));

/** A port on localhost that nobody else can listen on until `release`. */
async function busyPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const server = net.createServer();
  // The same name the command is given: it resolves to the same address here.
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve));
  return { port: (server.address() as net.AddressInfo).port, release: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** What one command prints, as the doc shows it. */
async function output(cmd: Command): Promise<string> {
  const held: (() => Promise<void>)[] = [];
  const pairs: [shown: string, actual: string[]][] = [];
  for (const [shown, actual] of cmd.subst) {
    if (actual === 'busy-port') {
      const b = await busyPort();
      held.push(b.release);
      pairs.push([shown, [String(b.port)]]);
    } else {
      pairs.push([shown, [join(ROOT, actual), actual]]);
    }
  }
  try {
    const args = cmd.args.map((a) => pairs.reduce((s, [shown, actual]) => s.replaceAll(shown, actual[0]!), a));
    const r = await runCli(args);
    const text = r.stderr + (r.code === 0 ? r.stdout : '');
    return pairs.reduce((s, [shown, actual]) => actual.reduce((t, a) => t.replaceAll(a, shown), s), text);
  } finally {
    for (const release of held) await release();
  }
}

describe('command output shown in README.md and docs/', { concurrency: 2 }, () => {
  it('every block of program output is marked, and the main docs have some', () => {
    assert.deepEqual(unmarked, [], 'blocks that look like program output but have no doc-test marker');
    for (const f of ['README.md', 'docs/configuration.md', 'docs/errors.md']) {
      assert.ok(blocks.some((b) => b.where.startsWith(`${f}:`)), `${f} has no doc-test block`);
    }
  });

  for (const b of blocks) {
    it(`${b.where}: ${b.commands.map((c) => `restreamer ${c.args.join(' ')}`).join('; ')}`, async () => {
      let actual = '';
      for (const c of b.commands) actual += await output(c);
      assert.equal(actual.trimEnd(), b.expected.trimEnd());
    });
  }
});
