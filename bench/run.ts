// npm run bench [-- options]: fan-out benchmark of the real proxy CLI (issue 5).
// Every scenario writes bench/results/<scenario>-<timestamp>.json; see docs/benchmarks.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SCENARIOS, type ScenarioArgs, type ScenarioResult } from './scenarios.js';
import { ROOT } from './lib/harness.js';
import { BENCH_DIR } from './lib/media.js';
import { killAll } from './lib/procs.js';
import { summariseProfile, summariseConnectPhase } from './lib/cpuprofile.js';
import type { RunResult } from './lib/harness.js';

const HELP = `Usage: npm run bench -- [options]
  --scenario NAME[,NAME]  ${Object.keys(SCENARIOS).join(', ')}, profile, profile-connect (default: all but the profiles)
  --clients N             client count of single-count scenarios (rss-600: the upper count)
  --steps A,B,C           ceiling steps (default 600,1000,1500)
  --ramp S                seconds after all clients connected before measuring (default 3)
  --measure S             measurement window, seconds (default 10)
  --repeat N              run every scenario N times (default 1)
  --workers N             pass "workers": N in the proxy config
  --set KEY=JSON          any other proxy config key, e.g. --set batchms=5 (repeatable)
  --stream-set KEY=JSON   a key of the stream resource, e.g. --stream-set start='"live"' (repeatable)
  --http 1.0|1.1          clients' HTTP version (default 1.1: chunked answers, parsed)
  --procs N               client processes per run (default 2-4 by client count)
  --tsx                   run src/cli.ts via tsx instead of building dist/
  --cli PATH              benchmark this built cli.js instead (e.g. an older commit's dist/src/cli.js, for A/B runs)
  --node-flags "F G"      the proxy's node flags instead of src/node-flags.ts's (e.g. "--max-semi-space-size=8"; "" for none)
  --env KEY=VALUE         an environment variable for the proxy, e.g. --env MALLOC_ARENA_MAX=2 (repeatable)
  --no-build              do not run npm run build first
  --max-minutes M         stop everything after M minutes (default 30)`;

interface Cli { scenarios: string[]; args: ScenarioArgs; repeat: number; build: boolean; maxMinutes: number }

function parse(argv: string[]): Cli {
  const args: ScenarioArgs = { rampS: 3, measureS: 10, steps: [600, 1000, 1500], proxyConfig: {}, streamConfig: {}, tsx: false, http: '1.1' };
  let scenarios = Object.keys(SCENARIOS);
  let repeat = 1;
  let build = true;
  let maxMinutes = 30;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = (): string => { const x = argv[++i]; if (x === undefined) throw new Error(`${a} needs a value`); return x; };
    const num = (): number => { const x = Number(v()); if (!Number.isFinite(x) || x < 0) throw new Error(`${a} needs a number`); return x; };
    switch (a) {
      case '--scenario': scenarios = v().split(','); break;
      case '--clients': args.clients = num(); break;
      case '--steps': args.steps = v().split(',').map(Number); break;
      case '--ramp': args.rampS = num(); break;
      case '--measure': args.measureS = num(); break;
      case '--repeat': repeat = num(); break;
      case '--workers': args.proxyConfig.workers = num(); break;
      case '--set': case '--stream-set': {
        const target = a === '--set' ? args.proxyConfig : args.streamConfig;
        const kv = v();
        const eq = kv.indexOf('=');
        if (eq < 1) throw new Error('--set needs KEY=VALUE');
        const raw = kv.slice(eq + 1);
        let val: unknown = raw;
        try { val = JSON.parse(raw); } catch { /* a plain string */ }
        target[kv.slice(0, eq)] = val;
        break;
      }
      case '--http': { const h = v(); if (h !== '1.0' && h !== '1.1') throw new Error('--http 1.0 or 1.1'); args.http = h; break; }
      case '--procs': args.clientProcs = num(); break;
      case '--tsx': args.tsx = true; build = false; break;
      case '--cli': args.cliPath = resolve(v()); build = false; break;
      case '--no-build': build = false; break;
      case '--node-flags': args.nodeFlags = v().split(' ').filter(Boolean); break;
      case '--env': {
        const kv = v();
        const eq = kv.indexOf('=');
        if (eq < 1) throw new Error('--env needs KEY=VALUE');
        args.env = { ...args.env, [kv.slice(0, eq)]: kv.slice(eq + 1) };
        break;
      }
      case '--max-minutes': maxMinutes = num(); break;
      case '--help': case '-h': process.stdout.write(HELP + '\n'); process.exit(0); break;
      default: throw new Error(`unknown option ${a}\n${HELP}`);
    }
  }
  for (const s of scenarios) if (!SCENARIOS[s] && s !== 'profile' && s !== 'profile-connect') throw new Error(`unknown scenario ${s} (known: ${Object.keys(SCENARIOS).join(', ')}, profile, profile-connect)`);
  return { scenarios, args, repeat, build, maxMinutes };
}

function machine(): Record<string, unknown> {
  const model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model;
  let git = '';
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim();
    git = head + (dirty ? ` + ${dirty.split('\n').length} changed files in src/` : '');
  } catch { /* not a checkout */ }
  return { nproc: cpus().length, cpu: model, node: process.version, kernel: release(), loadavg: loadavg().map((x) => +x.toFixed(2)), git };
}

function line(label: string, r: RunResult): string {
  const f = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
  return [
    label.padEnd(26),
    `cpu ${f(r.proxyCpuS.total)}s (u ${f(r.proxyCpuS.user)} s ${f(r.proxyCpuS.sys)})`,
    `${f(r.deliveredGbps, 3)}/${f(r.expectedGbps, 3)} Gbit/s`,
    `${f(r.cpuSPerGbit, 3)} cpu-s/Gbit`,
    `loss ${r.clientsWithLossTotal}/${r.clients} (window ${r.clientsWithLossWindow})`,
    `failed ${r.failedClients}`,
    `lat p50 ${f(r.latencyMs.p50, 1)} p99 ${f(r.latencyMs.p99, 1)} ms`,
    `ttfb p50 ${f(r.ttfbMs.p50, 0)} p90 ${f(r.ttfbMs.p90, 0)} max ${f(r.ttfbMs.max, 0)} first-TS max ${f(r.firstMediaMs.max, 0)} ms`,
    `connect ${f(r.connectS)}s (cpu proxy ${f(r.connectCpuS.proxy)} loadgen ${f(r.connectCpuS.loadgen)})`,
    `peak MB private ${f(r.proxyPeakRssAnonMB, 1)} rss ${f(r.proxyPeakRssMB, 1)} pss ${f(r.proxyPeakPssMB, 1)}`,
    `loadgen ${f(r.loadgenCpuS)}s`,
    `load ${r.loadavg.join('->')}, source late max ${r.sourceMaxLateMs} ms${r.sourceMaxLateMs > 100 ? ' (NOISY)' : ''}`,
  ].join(' | ');
}

async function runProfile(a: ScenarioArgs): Promise<ScenarioResult & { profile?: unknown }> {
  const dir = mkdtempSync(join(tmpdir(), 'rs-prof-'));
  const res = await SCENARIOS['http-300x4']!({ ...a, cpuProfDir: dir });
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return { ...res, summary: { error: `no .cpuprofile written in ${dir}` } };
  const profiles = files.map((f) => ({ file: join(dir, f), ...summariseProfile(join(dir, f)) }));
  return { ...res, summary: { profiles: profiles.map((p) => p.file) }, profile: profiles };
}

/** A mass connect (ceiling, one step) under --cpu-prof: what the proxy did until every client had data. */
async function runProfileConnect(a: ScenarioArgs): Promise<ScenarioResult & { connectProfile?: unknown }> {
  const dir = mkdtempSync(join(tmpdir(), 'rs-prof-'));
  const n = a.clients ?? 1500;
  const res = await SCENARIOS.ceiling!({ ...a, steps: [n], cpuProfDir: dir });
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const r = res.runs[0]?.result;
  if (files.length === 0 || !r) return { ...res, summary: { error: `no .cpuprofile written in ${dir}` } };
  const windowMs = Math.ceil(r.connectS * 1000);
  const connectProfile = summariseConnectPhase(join(dir, files[0]!), windowMs);
  return { ...res, summary: { profile: join(dir, files[0]!), windowMs }, connectProfile };
}

async function main(): Promise<void> {
  const cli = parse(process.argv.slice(2));
  const deadline = setTimeout(() => {
    process.stderr.write(`bench: stopped after ${cli.maxMinutes} minutes (--max-minutes)\n`);
    process.exit(3);
  }, cli.maxMinutes * 60_000);
  deadline.unref();
  if (cli.build) {
    process.stderr.write('bench: npm run build\n');
    try {
      execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], timeout: 180_000 });
    } catch {
      // tsc still emits on type errors (another engineer's file mid-edit); dist/ is used if present.
      process.stderr.write('bench: warning: npm run build reported errors; using whatever dist/ holds\n');
    }
  }
  const resultsDir = join(BENCH_DIR, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const m = machine();
  process.stderr.write(`bench: ${String(m.nproc)} x ${String(m.cpu)}, node ${String(m.node)}, load ${JSON.stringify(m.loadavg)}\n`);
  for (let rep = 0; rep < cli.repeat; rep++) {
    for (const name of cli.scenarios) {
      process.stderr.write(`bench: scenario ${name}${cli.repeat > 1 ? ` (${rep + 1}/${cli.repeat})` : ''}...\n`);
      const startedAt = new Date();
      let res: ScenarioResult & { profile?: unknown; connectProfile?: unknown };
      try {
        res = name === 'profile' ? await runProfile(cli.args) : name === 'profile-connect' ? await runProfileConnect(cli.args) : await SCENARIOS[name]!(cli.args);
      } catch (e) {
        process.stderr.write(`bench: scenario ${name} failed: ${(e as Error).stack ?? String(e)}\n`);
        res = { runs: [], summary: {}, skipped: `failed: ${(e as Error).message}` };
      }
      const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
      const out = join(resultsDir, `${name}-${stamp}.json`);
      writeFileSync(out, JSON.stringify({
        scenario: name, startedAt: startedAt.toISOString(), machine: { ...m, loadavg: loadavg().map((x) => +x.toFixed(2)) },
        command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(), options: cli.args, ...res,
      }, null, 1));
      if (res.skipped) process.stdout.write(`${name}: SKIPPED: ${res.skipped}\n`);
      for (const r of res.runs) process.stdout.write(`${name} | ${line(r.label, r.result)}\n`);
      for (const [k, v] of Object.entries(res.summary)) process.stdout.write(`${name} | ${k} ${JSON.stringify(v)}\n`);
      if (res.profile) {
        for (const p of res.profile as { busyMs: number; idleMs: number; top: { fn: string; where: string; selfMs: number; pct: number }[] }[]) {
          process.stdout.write(`profile: busy ${p.busyMs} ms, idle ${p.idleMs} ms; top self time:\n`);
          for (const t of p.top) process.stdout.write(`  ${String(t.pct).padStart(5)}%  ${String(t.selfMs).padStart(6)} ms  ${t.fn}  ${t.where}\n`);
        }
      }
      if (res.connectProfile) {
        const c = res.connectProfile as ReturnType<typeof summariseConnectPhase>;
        process.stdout.write(`connect phase: busy ${c.busyMs} ms; per 100 ms: ${c.slices.join(' ')}\n`);
        for (const x of c.byActivity) process.stdout.write(`  ${String(x.pct).padStart(5)}%  ${String(x.ms).padStart(5)} ms  ${x.activity}\n`);
      }
      process.stdout.write(`  -> ${out}\n`);
    }
  }
}

const bail = (sig: string): void => { process.stderr.write(`bench: ${sig}, stopping\n`); killAll(); process.exit(130); };
process.on('SIGINT', () => bail('SIGINT'));
process.on('SIGTERM', () => bail('SIGTERM'));
main().then(() => process.exit(0), (e: unknown) => { process.stderr.write(`bench: ${(e as Error).message}\n`); killAll(); process.exit(2); });
