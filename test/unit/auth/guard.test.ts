// Brute-force protection on a fake clock: more than `failures` wrong credentials in the
// window block an address for `blockMs`; other addresses and IPv6 /64s are counted apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressGuard, addressKey } from '../../../src/auth/guard.js';

function guard(failures = 10, windowMs = 60_000, blockMs = 60_000) {
  const t = { now: 1_000_000 };
  const blocks: [string, number][] = [];
  const g = new AddressGuard({ failures, windowMs, blockMs, nowMs: () => t.now, onBlock: (k, n) => blocks.push([k, n]) });
  return { g, t, blocks };
}

test('the 11th wrong credential within the window blocks the address for blockMs, reported once', () => {
  const { g, t, blocks } = guard();
  for (let i = 0; i < 10; i++) { g.fail('192.0.2.1'); t.now += 1000; }
  assert.equal(g.blockedMs('192.0.2.1'), 0);
  g.fail('192.0.2.1');
  assert.equal(g.blockedMs('192.0.2.1'), 60_000);
  assert.deepEqual(blocks, [['192.0.2.1', 11]]);
  // More failures during the block neither extend it nor report again.
  g.fail('192.0.2.1');
  assert.equal(blocks.length, 1);
  assert.equal(g.blockedMs('192.0.2.2'), 0, 'another address is not affected');
  t.now += 59_999;
  assert.equal(g.blockedMs('192.0.2.1'), 1);
  t.now += 1;
  assert.equal(g.blockedMs('192.0.2.1'), 0, 'the block ends');
  // A new episode starts from zero.
  for (let i = 0; i < 10; i++) g.fail('192.0.2.1');
  assert.equal(g.blockedMs('192.0.2.1'), 0);
  g.fail('192.0.2.1');
  assert.equal(blocks.length, 2);
});

test('failures older than the window do not count', () => {
  const { g, t } = guard(3, 10_000);
  for (let i = 0; i < 10; i++) { g.fail('a'); t.now += 4000; }
  assert.equal(g.blockedMs('a'), 0, 'never more than 3 within 10 s');
  g.fail('a'); g.fail('a'); g.fail('a');
  assert.ok(g.blockedMs('a') > 0);
});

test('0 failures turns it off', () => {
  const { g } = guard(0);
  for (let i = 0; i < 100; i++) g.fail('a');
  assert.equal(g.blockedMs('a'), 0);
});

test('a block told by the primary (block) holds in a worker; blocks() lists those in force', () => {
  const { g, t } = guard();
  g.block(addressKey('::ffff:192.0.2.9'), 5000);
  assert.equal(g.blockedMs('192.0.2.9'), 5000);
  t.now += 1000;
  assert.deepEqual(g.blocks(), [['192.0.2.9', 4000]]);
  t.now -= 1000;
  t.now += 5000;
  assert.equal(g.blockedMs('192.0.2.9'), 0);
});

test('addressKey: IPv4 (mapped or not) as itself, IPv6 by its /64', () => {
  assert.equal(addressKey('192.0.2.1'), '192.0.2.1');
  assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(addressKey('2001:db8:0:1:aaaa::1'), '2001:db8:0:1::/64');
  assert.equal(addressKey('2001:0db8:0000:0001:ffff:1:2:3'), '2001:db8:0:1::/64');
  assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(addressKey('::1'), '0:0:0:0::/64');
  assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(addressKey(undefined), '');
});

test('a /64 is one address: rotating through it does not escape the count', () => {
  const { g } = guard(2);
  g.fail('2001:db8::1'); g.fail('2001:db8::2'); g.fail('2001:db8::3');
  assert.ok(g.blockedMs('2001:db8::ffff') > 0);
  assert.equal(g.blockedMs('2001:db8:0:1::1'), 0);
});

test('quiet addresses are forgotten once a window has passed', () => {
  const { g, t } = guard(10, 1000, 1000);
  for (let i = 0; i < 1000; i++) g.fail(`10.0.${i >> 8}.${i & 255}`);
  t.now += 1001;
  g.fail('10.9.9.9');
  // Internal size is not exported; the forgotten ones count from zero again.
  for (let i = 0; i < 10; i++) g.fail('10.0.0.0');
  assert.equal(g.blockedMs('10.0.0.0'), 0);
  assert.equal((g as unknown as { entries: Map<string, unknown> }).entries.size, 2);
});
