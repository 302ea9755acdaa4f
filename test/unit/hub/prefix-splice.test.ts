// Clean splices in the hub: a client that rides through upstream switches, or starts after
// one, sees one stream a decoder accepts: a fresh PAT/PMT, the discontinuity_indicator on
// every PID's first packet after the switch (PSI/SI included), and no continuity error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StreamHub } from '../../../src/hub/hub.js';
import { StreamAnalyzer } from '../../../src/ts/analyzer.js';
import { checkStream } from '../../helpers/continuity.js';
import { RecordingSink } from '../../helpers/sinks.js';

const PKT = 188;
// H.264 + AAC, 1 s GOP; PIDs 0 (PAT), 17 (SDT), 4096 (PMT), 256 (video, PCR), 257 (audio).
const TS = readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'mpegts', 'h264_aac.mpegts'));
const TOTAL = TS.length / PKT;


const pidOf = (b: Buffer, o: number): number => ((b[o + 1]! & 0x1f) << 8) | b[o + 2]!;
const disc = (b: Buffer, o: number): boolean => (b[o + 3]! & 0x20) !== 0 && b[o + 4]! > 0 && (b[o + 5]! & 0x80) !== 0;

/** Feed packets [from, to) of the fixture, 7 at a time, as an upstream would. */
function feed(hub: StreamHub, from: number, to: number): void {
  for (let p = from; p < to; p += 7) hub.push(TS, p * PKT, Math.min(7, to - p));
}

test('five upstream switches with a client riding through: 0 continuity errors, every PID flagged at each switch, each resume at a keyframe', () => {
  const hub = new StreamHub({ outputBufferPackets: 400, batchMs: 1000 });
  const s = new RecordingSink();
  feed(hub, 0, 200);
  hub.addClient(s);
  feed(hub, 200, 300);
  hub.flush();
  const switches: number[] = [];
  // Each new "upstream" starts somewhere else in the clip (mid-GOP, counters wherever they are).
  const starts = [37, 150, 0, 260, 91];
  for (const start of starts) {
    hub.upstreamLost(60_000);
    switches.push(s.all().length / PKT);
    hub.upstreamResumed();
    feed(hub, start, TOTAL);
    hub.flush();
  }
  hub.close();
  const out = s.all();
  const chk = checkStream(out);
  assert.equal(chk.syncErrors, 0);
  assert.equal(chk.ccErrors, 0, chk.notes.join('; '));
  for (const [k, at] of switches.entries()) {
    // After the switch: PAT, PMT (both flagged), markers, then the keyframe.
    assert.equal(pidOf(out, at * PKT), 0, `switch ${k}: the PAT first`);
    const seen = new Set<number>();
    const end = k + 1 < switches.length ? switches[k + 1]! : out.length / PKT;
    for (let i = at; i < end; i++) {
      const pid = pidOf(out, i * PKT);
      if (pid === 0x1fff || seen.has(pid)) continue;
      seen.add(pid);
      assert.ok(disc(out, i * PKT), `switch ${k}: first packet of PID ${pid} carries the discontinuity_indicator`);
    }
    assert.deepEqual([...seen].sort((a, b) => a - b), [0, 17, 256, 257, 4096], `switch ${k}: every PID flagged, SDT included`);
    const a = new StreamAnalyzer();
    const n = Math.min(end - at, 400);
    for (let i = 0; i < n && a.lastRapIndex < 0; i++) a.scan(out, (at + i) * PKT, 1, i);
    const firstVideo = [...Array(n).keys()].find((i) => pidOf(out, (at + i) * PKT) === 256 && (out[(at + i) * PKT + 3]! & 0x10));
    assert.equal(a.lastRapIndex, firstVideo, `switch ${k}: the first video payload is a keyframe`);
  }
});

test('after a loss without grace, a new client never starts in the old upstream\'s data', () => {
  const hub = new StreamHub({ outputBufferPackets: 400, batchMs: 1000 });
  feed(hub, 0, 300); // old session: keyframes in the ring
  const old = new RecordingSink();
  hub.addClient(old);
  hub.endAll('upstream_lost'); // as the stream does when grace is 0 or nobody watched
  assert.equal(old.ended, 'upstream_lost');
  const early = new RecordingSink(); // joins before the new upstream has sent anything
  hub.addClient(early);
  assert.equal(early.all().length, 0, 'nothing from the old upstream');
  feed(hub, 150, 200); // the new upstream, before its first keyframe (packet ~235)
  hub.flush();
  const s = new RecordingSink();
  hub.addClient(s);
  assert.equal(s.all().length, 0, 'nothing until the new upstream has a keyframe');
  assert.equal(early.all().length, 0);
  feed(hub, 200, TOTAL);
  hub.flush();
  for (const [name, sink] of [['early', early], ['later', s]] as const) {
    const out = sink.all();
    assert.equal(pidOf(out, 0), 0, `${name}: starts with the PAT`);
    const chk = checkStream(out);
    assert.equal(chk.ccErrors, 0, `${name}: ${chk.notes.join('; ')}`);
    assert.equal(chk.pcrErrors, 0, `${name}: ${chk.notes.join('; ')}`);
  }
  hub.close();
});

test('splice prefix: a PAT/PMT copy with no stuffing to spare gets a marker in front of it instead', () => {
  const hub = new StreamHub({ outputBufferPackets: 400, batchMs: 1000 });
  // A PMT that fills its packet: rebuild the fixture's PMT packets with no 0xFF stuffing.
  const ts = Buffer.from(TS);
  for (let o = 0; o < ts.length; o += PKT) {
    if (pidOf(ts, o) !== 4096) continue;
    const sectionEnd = o + 5 + ts[o + 4]! + 3 + (((ts[o + 6]! & 0x0f) << 8) | ts[o + 7]!);
    ts.fill(0xfe, sectionEnd, o + PKT);
  }
  const s = new RecordingSink();
  for (let p = 0; p < 300; p += 7) hub.push(ts, p * PKT, Math.min(7, 300 - p));
  hub.addClient(s);
  hub.upstreamLost(60_000);
  const at = s.all().length / PKT;
  hub.upstreamResumed();
  for (let p = 0; p < TOTAL; p += 7) hub.push(ts, p * PKT, Math.min(7, TOTAL - p));
  hub.flush();
  hub.close();
  const out = s.all();
  // The tables with fake non-stuffing still parse (the CRC covers the section, not the stuffing).
  assert.equal(pidOf(out, at * PKT), 4096, 'a marker for the PMT first');
  assert.equal(out[at * PKT + 3]! & 0x30, 0x20, 'adaptation field only');
  assert.ok(disc(out, at * PKT));
  assert.equal(pidOf(out, (at + 1) * PKT), 0, 'then the PAT, flagged itself');
  assert.ok(disc(out, (at + 1) * PKT));
  const chk = checkStream(out);
  assert.equal(chk.ccErrors, 0, chk.notes.join('; '));
});
