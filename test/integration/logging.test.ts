import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// The JSON log as multi-process mode produces it: several processes writing batched lines
// to one shared stdout pipe. Every line must arrive whole (writes of whole lines, at most
// PIPE_BUF bytes, are never interleaved), and none may be lost at exit.

const ROOT = resolve(import.meta.dirname, '..', '..');

test('batched JSON log: four processes sharing one stdout pipe, every line whole and in order, none lost at exit', { timeout: 30000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-log-'));
  try {
    const script = join(dir, 'writer.mts');
    writeFileSync(script, `
      import { createLogger } from ${JSON.stringify(join(ROOT, 'src/log/logger.ts'))};
      const h = createLogger();
      const pad = 'x'.repeat(Number(process.argv[3]));
      for (let i = 0; i < 3000; i++) h.logger.info({ evt: 'line', w: Number(process.argv[2]), i, pad });
      await h.close(10000);
      process.exit(0);
    `);
    // Line lengths vary per writer, so batches end at different offsets.
    const cmd = [1, 2, 3, 4].map((w) => `node --import tsx ${script} ${w} ${w * 97} &`).join(' ') + ' wait';
    const sh = spawn('sh', ['-c', cmd], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    sh.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const code = await new Promise((r) => sh.on('exit', r));
    assert.equal(code, 0);
    const lines = out.split('\n').filter(Boolean);
    const seen = new Map<number, Set<number>>();
    for (const l of lines) {
      const o = JSON.parse(l) as { w: number; i: number; pad: string };
      assert.equal(o.pad.length, o.w * 97, 'line intact');
      if (!seen.has(o.w)) seen.set(o.w, new Set());
      const mine = seen.get(o.w)!;
      assert.equal(o.i, mine.size, `writer ${o.w}: lines in order, none missing before this one`);
      mine.add(o.i);
    }
    for (const w of [1, 2, 3, 4]) assert.equal(seen.get(w)?.size, 3000, `writer ${w}: every line arrived`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
