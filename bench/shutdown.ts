// How long Ctrl-C (SIGINT) takes to end the built proxy: from the signal to the process's
// exit, without clients and with one viewer reading. Run `npm run build` first.
// Usage: node --import tsx bench/shutdown.ts [RUNS] [WORKERS]
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const runs = Number(process.argv[2] ?? 10);
const workers = Number(process.argv[3] ?? 1);
const dir = mkdtempSync(join(tmpdir(), 'rs-bench-shutdown-'));
const cfg = join(dir, 'restreamer.json');
writeFileSync(cfg, JSON.stringify({
  listen: '127.0.0.1:0', workers,
  resources: [{ type: 'stream', serve: '/demo.ts', remote: `file://${join(ROOT, 'examples', 'demo', 'demo.ts')}?loop&realtime` }],
}));

async function once(viewer: boolean): Promise<{ ms: number; clean: boolean }> {
  const p = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), '--log-format', 'json', cfg], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const port = await new Promise<number>((res) => p.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const m = /"evt":"listen".*?"port":(\d+)/.exec(out);
    if (m && out.includes('upstream_connect')) res(Number(m[1]));
  }));
  let clean = true;
  if (viewer) {
    clean = false;
    await new Promise<void>((res) => http.get({ host: '127.0.0.1', port, path: '/demo.ts', agent: false }, (r) => {
      r.once('data', () => res());
      r.on('end', () => { clean = r.complete; });
      r.resume();
    }));
  }
  const t0 = process.hrtime.bigint();
  p.kill('SIGINT');
  await new Promise((r) => p.once('exit', r));
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, clean };
}

for (const viewer of [false, true]) {
  const t: number[] = [];
  let clean = 0;
  for (let i = 0; i < runs; i++) { const r = await once(viewer); t.push(r.ms); if (r.clean) clean++; }
  t.sort((a, b) => a - b);
  console.log(`workers ${workers}, ${viewer ? 'one viewer' : 'no clients'}: SIGINT -> exit median ${t[t.length >> 1]!.toFixed(0)} ms, max ${t[t.length - 1]!.toFixed(0)} ms over ${runs} runs${viewer ? `; ${clean}/${runs} viewers got a clean end` : ''}`);
}
rmSync(dir, { recursive: true, force: true });
