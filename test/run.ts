// `npm test` after the type check: every test file, as a fresh machine would run them.
// - All temporary files of the run go to one fresh folder (TMPDIR for the test files),
//   removed at the end; whatever a test file left there is listed, so leaks show.
// - The ffmpeg-made fixtures are made once, before any test file starts (no two files
//   race to make them), and kept between runs in RESTREAMER_FIXTURES (default: a folder
//   in the outer temporary directory; a fresh TMPDIR gives the cold path).
// - Nothing can hang: each test has a bound (--test-timeout), a file's process exits when
//   its tests are done (--test-force-exit; the helpers kill what the file started), and
//   the whole run has a bound after which everything it started is killed.
// Usage: node --import tsx test/run.ts [FILE...]   (default: every test file)
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
/** One test (or hook) may take this long; the slowest measured take ~30 s on a loaded machine. */
const TEST_TIMEOUT_MS = 180_000;
/** The whole run (about 6-9 minutes on 2 cores; coverage, `npm test`'s way, adds ~20% CPU). */
const RUN_TIMEOUT_MS = 30 * 60_000;

const outer = tmpdir();
process.env.RESTREAMER_FIXTURES ??= join(outer, 'restreamer-fixtures');
const runDir = mkdtempSync(join(outer, 'restreamer-test-'));
process.env.TMPDIR = runDir;

function testFiles(): string[] {
  const out: string[] = [];
  // test/unit mirrors src/, so it is walked to any depth.
  for (const d of ['test/unit', 'test/integration']) {
    const found = readdirSync(join(ROOT, d), { recursive: true, encoding: 'utf8' });
    for (const f of found.sort()) if (f.endsWith('.test.ts')) out.push(`${d}/${f}`);
  }
  return out;
}

const files = process.argv.length > 2 ? process.argv.slice(2) : testFiles();

// Fixtures first, in this process (TMPDIR changed above, so tmpdir() follows it).
const { fixtureTs } = await import('./helpers/upstream.js');
try {
  fixtureTs();
} catch (err) {
  // Tests that need ffmpeg fail with their own message; the unit tests still run.
  process.stderr.write(`test/run: could not make the fixture (is ffmpeg installed?): ${(err as Error).message}\n`);
}

const child = spawn(process.execPath, [
  '--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${TEST_TIMEOUT_MS}`, '--test-force-exit',
  ...files,
], { cwd: ROOT, stdio: 'inherit', detached: true });

// The runner and everything under it is one process group: a bound or a signal ends all.
const killAll = (sig: NodeJS.Signals): void => { try { process.kill(-child.pid!, sig); } catch { /* gone */ } };
const bound = setTimeout(() => {
  process.stderr.write(`test/run: the run took longer than ${RUN_TIMEOUT_MS / 60000} minutes; stopping it\n`);
  killAll('SIGTERM');
  setTimeout(() => killAll('SIGKILL'), 5000).unref();
}, RUN_TIMEOUT_MS);
// node --test goes on starting files after a SIGTERM or SIGINT: what is still there 5 s
// after the signal is killed.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    killAll(sig);
    setTimeout(() => killAll('SIGKILL'), 5000).unref();
  });
}

const code = await new Promise<number>((res) => child.on('exit', (c, s) => res(c ?? (s ? 1 : 0))));
clearTimeout(bound);
// Whatever is still alive in the group (a grandchild nobody stopped) goes now.
killAll('SIGKILL');

// tsx keeps its compile cache there (tsx-<uid>): not a leak.
const left = readdirSync(runDir).filter((f) => !/^tsx-\d+$/.test(f));
if (left.length > 0) process.stderr.write(`test/run: test files left ${left.length} temporary entries behind: ${left.slice(0, 10).join(', ')} (in ${runDir}; removed)\n`);
rmSync(runDir, { recursive: true, force: true });
process.exit(code);
