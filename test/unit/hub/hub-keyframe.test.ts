import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StreamHub } from '../../../src/hub/hub.js';
import { StreamAnalyzer } from '../../../src/ts/analyzer.js';
import { PKT, ccErrors } from '../../helpers/packets.js';
import { busySink, RecordingSink } from '../../helpers/sinks.js';
import { FakeClock } from '../../helpers/clock.js';

const TS = readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'mpegts', 'h264_aac.mpegts')); // 1 s GOP


const pidOf = (b: Buffer, o: number) => ((b[o + 1]! & 0x1f) << 8) | b[o + 2]!;

/** The first packet index (in `out`) at which an analyzer fed `out` sees a keyframe, and the PIDs before it. */
function firstRap(out: Buffer): { rap: number; before: number[] } {
  const a = new StreamAnalyzer();
  a.scan(out, 0, out.length / PKT, 0);
  const before: number[] = [];
  for (let i = 0; i < a.lastRapIndex; i++) before.push(pidOf(out, i * PKT));
  // lastRapIndex is the newest; the client capture here holds a single keyframe start.
  return { rap: a.lastRapIndex, before };
}

function feed(hub: StreamHub, from: number, to: number): void {
  for (let p = from; p < to; p += 7) hub.push(TS, p * PKT, Math.min(7, to - p));
}

test('keyframe start: PAT, PMT, then the latest keyframe, then live', () => {
  const hub = new StreamHub({ outputBufferPackets: 400, batchMs: 1000 });
  const total = TS.length / PKT;
  feed(hub, 0, Math.floor(total * 0.6));
  hub.flush();
  const rapIdx = hub.analyzer.lastRapIndex;
  assert.ok(rapIdx > 0, 'the analyzer found a keyframe');
  const expectedRapPacket = Buffer.from(hub.ring.packetView(rapIdx));
  const s = new RecordingSink();
  hub.addClient(s);
  const burst = s.all();
  assert.equal(pidOf(burst, 0), 0, 'first packet is the PAT');
  const pmtPid = hub.analyzer.programs[0]!.pmtPid;
  assert.equal(pidOf(burst, PKT), pmtPid, 'then the PMT');
  assert.ok(burst.subarray(2 * PKT, 3 * PKT).equals(expectedRapPacket), 'then the keyframe packet');
  assert.equal(burst.length, (2 + hub.ring.head - rapIdx) * PKT, 'the whole GOP so far, at once');
  // ...and it continues live with the next batch.
  feed(hub, Math.floor(total * 0.6), total);
  hub.flush();
  const all = s.all();
  assert.equal(all.length, (2 + hub.ring.head - rapIdx) * PKT);
  assert.equal(ccErrors(all), 0, 'the PAT/PMT copies continue the continuity counters seamlessly');
  hub.close();
});

test('live start (the original behaviour) begins at the live edge', () => {
  const hub = new StreamHub({ outputBufferPackets: 400, batchMs: 1000, start: 'live' });
  feed(hub, 0, 300);
  hub.flush();
  const s = new RecordingSink();
  hub.addClient(s);
  assert.equal(s.chunks.length, 0);
  feed(hub, 300, 320);
  hub.flush();
  assert.equal(s.all().length, 20 * PKT);
  hub.close();
});

test('a client joining before any keyframe waits for the first one', () => {
  const hub = new StreamHub({ outputBufferPackets: 400, batchMs: 1000 });
  const s = new RecordingSink();
  hub.addClient(s);
  feed(hub, 0, TS.length / PKT);
  hub.flush();
  const out = s.all();
  assert.ok(out.length > 0);
  assert.equal(pidOf(out, 0), 0, 'starts with the PAT');
  const { rap } = firstRap(out);
  assert.ok(rap >= 2, 'a keyframe follows the PAT/PMT');
  hub.close();
});

test('slow client in keyframe mode skips to a keyframe, counting the skipped packets', () => {
  const hub = new StreamHub({ outputBufferPackets: 100, batchMs: 1000 });
  const total = TS.length / PKT;
  feed(hub, 0, 200);
  hub.flush();
  const slow = new RecordingSink();
  const c = hub.addClient(slow);
  slow.accept = false;
  // The client stops reading while the stream goes on, flushed batch by batch.
  for (let p = 200; p < total; p += 20) { feed(hub, p, Math.min(total, p + 20)); hub.flush(); }
  for (let p = 0; p < 300; p += 20) { feed(hub, p, p + 20); hub.flush(); }
  assert.ok(c.packetsDropped > 0, 'it fell behind and lost data');
  slow.accept = true;
  slow.chunks = [];
  hub.drained(c);
  for (let p = 300; p < total; p += 20) { feed(hub, p, Math.min(total, p + 20)); hub.flush(); }
  const out = slow.all();
  assert.ok(out.length > 0, 'the client resumed');
  assert.equal(pidOf(out, 0), 0, 'resumes with a PAT');
  assert.ok(firstRap(out).rap >= 2, 'then a keyframe');
  assert.ok(c.packetsDropped > 0);
  assert.equal(hub.packetsDropped, c.packetsDropped);
  hub.close();
});

test('upstream switch: clients stay, get null packets in the gap, resume at a keyframe after discontinuity markers', () => {
  const clock = new FakeClock();
  const hub = new StreamHub({ outputBufferPackets: 400, batchMs: 1000, clock });
  const total = TS.length / PKT;
  const s = new RecordingSink();
  feed(hub, 0, 300);
  hub.addClient(s);
  hub.upstreamLost(20);
  const before = s.chunks.length;
  clock.tick(70);
  assert.equal(s.chunks.length, before + 3, 'seven null packets every 20 ms');
  const gap = s.all().subarray(-7 * PKT);
  assert.equal(pidOf(gap, 0), 0x1fff, 'null packets keep the connection alive');
  assert.equal(s.ended, undefined);
  s.chunks = [];
  hub.upstreamResumed();
  assert.equal(clock.pending, 0, 'the keep-alive stops when an upstream delivers again');
  feed(hub, 0, total);
  hub.flush();
  const out = s.all();
  assert.equal(pidOf(out, 0), 0);
  const pids = hub.analyzer.programs[0]!.streams.map((x) => x.pid);
  // After PAT and PMT: one adaptation-only packet per elementary stream with discontinuity_indicator.
  for (let i = 0; i < pids.length; i++) {
    const o = (2 + i) * PKT;
    assert.ok(pids.includes(pidOf(out, o)));
    assert.equal(out[o + 3]! & 0x30, 0x20, 'adaptation field only');
    assert.equal(out[o + 5]! & 0x80, 0x80, 'discontinuity_indicator');
  }
  assert.ok(firstRap(out).rap >= 2 + pids.length, 'then a keyframe');
  hub.close();
});

test('the ring grows to hold a GOP when outputbuffer is small', () => {
  const hub = new StreamHub({ outputBufferPackets: 50, batchMs: 1000, flushBytes: 10 * PKT });
  const before = hub.ring.capacity;
  feed(hub, 0, TS.length / PKT);
  assert.ok(hub.analyzer.gopPackets > before, 'the fixture GOP exceeds the initial ring');
  assert.ok(hub.ring.capacity >= 2 * hub.analyzer.gopPackets, `ring ${hub.ring.capacity} holds two GOPs`);
  hub.close();
});

test('clients zapping in together share the burst buffers (one copy of the GOP, not one per client)', () => {
  const hub = new StreamHub({ outputBufferPackets: 400, batchMs: 1000, maxWriteBytes: 50 * PKT });
  feed(hub, 0, Math.floor((TS.length / PKT) * 0.6));
  hub.flush();
  const a = new RecordingSink();
  const b = new RecordingSink();
  hub.addClient(a);
  hub.addClient(b);
  assert.ok(a.chunks.length > 2, 'the burst came in several writes');
  assert.equal(a.chunks.length, b.chunks.length);
  // PAT/PMT prefix and ring data alike: built once, handed to both.
  for (let i = 0; i < a.chunks.length; i++) assert.equal(a.chunks[i], b.chunks[i], `chunk ${i} is the same buffer`);
  assert.deepEqual(a.all(), b.all());
  hub.close();
});

test('clients joining at one keyframe share a prefix, rebuilt while the next PAT/PMT is still to come; counters stay seamless', () => {
  const hub = new StreamHub({ outputBufferPackets: 400, batchMs: 1000 });
  const total = TS.length / PKT;
  let p = Math.floor(total * 0.55);
  feed(hub, 0, p);
  // Feed packet by packet until a keyframe arrives: then no PAT/PMT follows it in the ring yet.
  const rap0 = hub.analyzer.lastRapIndex;
  while (hub.analyzer.lastRapIndex === rap0 && p < total) hub.push(TS, (p++) * PKT, 1);
  const rap = hub.analyzer.lastRapIndex;
  assert.notEqual(rap, rap0, 'a new keyframe arrived');
  hub.flush();
  const a = new RecordingSink();
  const a2 = new RecordingSink();
  hub.addClient(a);
  hub.addClient(a2);
  assert.equal(a2.chunks[0], a.chunks[0], 'joining together, nothing new in between: one shared prefix');
  // Feed on until the next PAT, still before the next keyframe.
  const patAt = hub.analyzer.patIndex;
  while (hub.analyzer.patIndex === patAt && p < total) hub.push(TS, (p++) * PKT, 1);
  assert.equal(hub.analyzer.lastRapIndex, rap, 'same keyframe');
  hub.flush();
  const b = new RecordingSink();
  const c = new RecordingSink();
  hub.addClient(b);
  hub.addClient(c);
  assert.notEqual(b.chunks[0], a.chunks[0], 'the next PAT arrived in between: a fresh prefix');
  assert.equal(c.chunks[0], b.chunks[0], 'clients joining together share it');
  feed(hub, p, total);
  hub.flush();
  for (const [name, s] of [['a', a], ['a2', a2], ['b', b], ['c', c]] as const) {
    assert.equal(ccErrors(s.all()), 0, `client ${name}: no continuity error, PAT/PMT included`);
    assert.equal(pidOf(s.all(), 0), 0, `client ${name} starts with the PAT`);
  }
  hub.close();
});

/** Saturate the hub's event loop: back-to-back batches in one callback, each slow to write. */
function saturate(hub: StreamHub, from: number, batches: number, per = 10): number {
  let p = from;
  for (let i = 0; i < batches; i++) { feed(hub, p, p + per); p += per; hub.flush(); }
  return p;
}

// The fixture's GOP is ~120 packets: first writes of 20 packets stand in for 64 KiB.
test('deferBursts: while the loop is saturated a new client gets PAT/PMT, the keyframe and the first part, then the live rate; the rest once the load passes, nothing lost', () => {
  const clock = new FakeClock();
  const hub = new StreamHub({ outputBufferPackets: 400, batchMs: 10, deferBursts: true, firstBurstBytes: 20 * PKT, clock });
  let p = 120; // just after a keyframe (packet 116); the next is at 235
  feed(hub, 0, p);
  hub.addClient(busySink({ ms: 3 }, clock), 'live');
  clock.tick(1);
  p = saturate(hub, p, 8);
  const rap = hub.analyzer.lastRapIndex;
  const burst = hub.ring.head - rap;
  assert.ok(burst > 40, `the GOP so far (${burst} packets) is more than the first write`);
  const c = new RecordingSink();
  hub.addClient(c);
  const first = c.all().length;
  assert.equal(first, (2 + 20) * PKT, 'first write: PAT, PMT and the first 20 packets from the keyframe');
  assert.ok(first > 2 * PKT, 'it does start the keyframe');
  // Still saturated: each batch moves the client on by about the batch, so its lag does not grow.
  const lag0 = hub.ring.head - (rap + (first / PKT - 2));
  p = saturate(hub, p, 3);
  const got = c.all().length / PKT - 2;
  const lag1 = hub.ring.head - (rap + got);
  assert.ok(lag1 <= lag0, `lag ${lag0} -> ${lag1} packets while saturated`);
  assert.ok(got < hub.ring.head - rap, 'the rest of the burst is held back meanwhile');
  // The load passes: the next batch brings the client to the live edge.
  clock.tick(60);
  feed(hub, p, p + 30);
  hub.flush();
  const out = c.all();
  assert.equal(out.length / PKT - 2, hub.ring.head - rap, 'caught up: every packet from the keyframe on, none skipped');
  assert.equal(ccErrors(out), 0, 'no continuity error');
  assert.ok(out.subarray(2 * PKT, 3 * PKT).equals(hub.ring.packetView(rap)), 'starting at the keyframe');
  hub.close();
});

test('without deferBursts (the hub default) a saturated loop still gets the whole burst at once', () => {
  const clock = new FakeClock();
  const hub = new StreamHub({ outputBufferPackets: 400, batchMs: 10, firstBurstBytes: 20 * PKT, clock });
  let p = 120;
  feed(hub, 0, p);
  hub.addClient(busySink({ ms: 3 }, clock), 'live');
  clock.tick(1);
  p = saturate(hub, p, 8);
  const c = new RecordingSink();
  hub.addClient(c);
  assert.equal(c.all().length / PKT - 2, hub.ring.head - hub.analyzer.lastRapIndex);
  hub.close();
});
