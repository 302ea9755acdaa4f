// Microbenchmark of the stream health checks (src/ts/tr101290.ts): ns per packet on a
// realistic stream, the demo clip looped in memory, fed in batches of ~64 KiB with
// arrival times that follow the stream's bitrate. Several rounds; the median is the figure.
// Time is this process's CPU time (process.cpuUsage): on a shared, loaded machine the wall
// clock also counts the time the process waited for a core; both are printed.
//   node --import tsx bench/tr101290.ts [--rounds 7] [--mb 200]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TS_PACKET_SIZE } from '../src/ts/packet.js';
import { Tr101290 } from '../src/ts/tr101290.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, mb: { type: 'string', default: '200' } } });
const rounds = Number(values.rounds);
const clip = readFileSync(new URL('../examples/demo/demo.ts', import.meta.url));
const clipPackets = Math.floor(clip.length / TS_PACKET_SIZE);
// The clip repeated to at least 8 MiB, so one pass is several loops of it.
const copies = Math.ceil((8 << 20) / (clipPackets * TS_PACKET_SIZE));
const buf = Buffer.concat(Array.from({ length: copies }, () => clip.subarray(0, clipPackets * TS_PACKET_SIZE)));
const packets = buf.length / TS_PACKET_SIZE;
const BATCH = Math.floor(65536 / TS_PACKET_SIZE);
/** The demo's bitrate is about 700 kbit/s: ms of stream per batch. */
const MS_PER_BATCH = (BATCH * TS_PACKET_SIZE * 8) / 700;
const perRound = Math.ceil((Number(values.mb) << 20) / buf.length);

function round(): { ns: number; wallNs: number; errors: number } {
  const c = new Tr101290();
  let now = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let pass = 0; pass < perRound; pass++) {
    for (let i = 0; i < packets; i += BATCH) {
      c.push(buf, i * TS_PACKET_SIZE, Math.min(BATCH, packets - i), now);
      now += MS_PER_BATCH;
    }
  }
  const wallNs = Number(process.hrtime.bigint() - t0) / (perRound * packets);
  const cpu = process.cpuUsage(cpu0);
  const ns = ((cpu.user + cpu.system) * 1000) / (perRound * packets);
  return { ns, wallNs, errors: Object.values(c.counts()).reduce((a, b) => a + b, 0) };
}

round(); // warm-up: the JIT settles
const results = Array.from({ length: rounds }, round);
const sorted = results.map((r) => r.ns).sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)]!;
const wall = results.map((r) => r.wallNs).sort((a, b) => a - b)[Math.floor(rounds / 2)]!;
process.stdout.write(`tr101290: ${median.toFixed(1)} ns/packet CPU, ${wall.toFixed(1)} wall (median of ${rounds} rounds of ${perRound * packets} packets; `
  + `min ${sorted[0]!.toFixed(1)}, max ${sorted[sorted.length - 1]!.toFixed(1)}; batches of ${BATCH} packets; `
  + `errors counted per round, from the loop points: ${results[0]!.errors})\n`);
