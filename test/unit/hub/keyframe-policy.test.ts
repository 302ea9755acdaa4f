import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyframePolicy, type KeyframePolicyOptions } from '../../../src/hub/keyframe-policy.js';
import { HubClient, StreamHub } from '../../../src/hub/hub.js';
import { PrefixCache } from '../../../src/hub/join-cache.js';
import { PacketRing } from '../../../src/hub/ring.js';
import { StreamAnalyzer } from '../../../src/ts/analyzer.js';
import { CcContinuer } from '../../../src/ts/continuity.js';
import { makeStream, PKT } from '../../helpers/packets.js';
import { FakeClock } from '../../helpers/clock.js';
import { RecordingSink } from '../../helpers/sinks.js';

const TS = readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'mpegts', 'h264_aac.mpegts')); // 1 s GOP


/** A policy over its own ring and analyzer, fed `data` (all `count` packets). */
function setup(opts: KeyframePolicyOptions, data: Buffer, count: number) {
  const clock = new FakeClock();
  const ring = new PacketRing(1000);
  const analyzer = new StreamAnalyzer();
  analyzer.scan(data, 0, count, 0);
  ring.write(data, 0, count);
  const counter = { packetsDropped: 0 };
  const policy = new KeyframePolicy(opts, clock, analyzer, ring, new PrefixCache(analyzer, ring, new CcContinuer()), counter);
  return { clock, ring, analyzer, counter, policy };
}

test('start mode defaults to keyframe; live mode is kept', () => {
  assert.equal(setup({ outputBufferPackets: 10 }, makeStream(1), 1).policy.start, 'keyframe');
  assert.equal(setup({ outputBufferPackets: 10, start: 'live' }, makeStream(1), 1).policy.start, 'live');
});

test('live mode: a client past its lag limit loses the oldest packets, counted for it and the stream', () => {
  const { policy, counter } = setup({ outputBufferPackets: 20 }, makeStream(50), 50);
  const c = new HubClient(new RecordingSink(), 0, 20, 'live');
  policy.trimLag(c, 50);
  assert.equal(c.cursor, 30);
  assert.equal(c.packetsDropped, 30);
  assert.equal(counter.packetsDropped, 30);
  policy.trimLag(c, 50);
  assert.equal(c.packetsDropped, 30, 'within its limit now: nothing more');
});

test('keyframe mode with no keyframe: an overrun client skips to the flush point and waits, skipped packets counted', () => {
  const { policy, counter } = setup({ outputBufferPackets: 20 }, makeStream(50), 50);
  const c = new HubClient(new RecordingSink(), 0, 20, 'keyframe');
  policy.trimLag(c, 50);
  assert.equal(c.cursor, 50);
  assert.equal(c.waitRap, true);
  assert.equal(c.countSkipped, true);
  assert.equal(counter.packetsDropped, 50);
  assert.equal(policy.tryResume(c, 60), false, 'no keyframe yet');
  assert.equal(c.cursor, 60);
  assert.equal(counter.packetsDropped, 60, 'what passes while it waits counts as dropped');
});

test('keyframe mode: an overrun client skips to the newest keyframe, after a PAT/PMT prefix', () => {
  const total = TS.length / PKT;
  const n = Math.min(total, 900);
  const { policy, analyzer, counter } = setup({ outputBufferPackets: 400 }, TS, n);
  const rap = analyzer.lastRapIndex;
  assert.ok(rap > 0 && n - rap <= 400, 'the fixture has a keyframe within the last outputbuffer');
  const c = new HubClient(new RecordingSink(), 0, 100, 'keyframe');
  policy.trimLag(c, n);
  assert.equal(c.cursor, rap);
  assert.ok(c.prefix?.length === 2 * PKT, 'PAT and PMT first');
  assert.equal(c.lagLimit, 400);
  assert.equal(counter.packetsDropped, rap);
});

test('startAtKeyframe: at the latest keyframe with PAT/PMT when known, else waiting', () => {
  const { policy, analyzer } = setup({ outputBufferPackets: 400 }, TS, 600);
  const rap = analyzer.lastRapIndex;
  const c = new HubClient(new RecordingSink(), 600, 400, 'keyframe');
  assert.equal(policy.startAtKeyframe(c, 600, 10), true);
  assert.equal(c.cursor, rap);
  assert.equal(c.lagLimit, 400 + 600 - rap, 'its allowance includes the burst');
  assert.ok(c.prefix);
  const none = setup({ outputBufferPackets: 400 }, makeStream(50), 50);
  const d = new HubClient(new RecordingSink(), 50, 400, 'keyframe');
  assert.equal(none.policy.startAtKeyframe(d, 50, 10), false);
  assert.equal(d.waitRap, true);
  assert.equal(d.countSkipped, false, 'a joining client loses nothing it was never sent');
});

test('a client waiting for a first keyframe starts live once keyframewait has passed (not before)', () => {
  const clock = new FakeClock();
  const hub = new StreamHub({ outputBufferPackets: 100, batchMs: 1000, keyframeWaitMs: 500, clock });
  const s = makeStream(40);
  const sink = new RecordingSink();
  const c = hub.addClient(sink);
  hub.push(s, 0, 10);
  hub.flush();
  clock.tick(500);
  hub.push(s, 10 * PKT, 10);
  hub.flush();
  assert.equal(sink.chunks.length, 0, 'still waiting at 500 ms');
  clock.tick(1);
  hub.push(s, 20 * PKT, 10);
  hub.flush();
  assert.equal(Buffer.concat(sink.chunks).length, 10 * PKT, 'then the live edge on');
  assert.equal(c.packetsDropped, 0);
  hub.close();
});

test('slowtimeout: a client whose socket stayed full longer than it is disconnected as too slow', () => {
  const clock = new FakeClock();
  const hub = new StreamHub({ outputBufferPackets: 100, batchMs: 1000, start: 'live', slowTimeoutMs: 2000, clock });
  const s = makeStream(40);
  const sink = new RecordingSink();
  sink.accept = false;
  hub.addClient(sink);
  hub.push(s, 0, 10);
  hub.flush();
  clock.tick(2000);
  hub.push(s, 10 * PKT, 10);
  hub.flush();
  assert.equal(sink.ended, undefined, 'not yet at exactly slowtimeout');
  clock.tick(1);
  hub.push(s, 20 * PKT, 10);
  hub.flush();
  assert.equal(sink.ended, 'too_slow');
  assert.equal(hub.slowDisconnects, 1);
  assert.equal(hub.clientCount, 0);
  hub.close();
});

test('slowtimeout 0: never too slow', () => {
  const { policy, clock } = setup({ outputBufferPackets: 20 }, makeStream(1), 1);
  const c = new HubClient(new RecordingSink(), 0, 20, 'live', clock.now());
  c.waiting = true;
  c.waitingSince = clock.now();
  clock.tick(1e9);
  assert.equal(policy.tooSlow(c), false);
});
