import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fnv1a64Hex } from '../../../src/http/fnv.js';

// Straightforward BigInt FNV-1a as the reference for the two-halves implementation.
function reference(buf: Uint8Array): string {
  let h = 0xcbf29ce484222325n;
  for (const b of buf) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

test('known FNV-1a 64 vectors', () => {
  assert.equal(fnv1a64Hex(Buffer.from('')), 'cbf29ce484222325');
  assert.equal(fnv1a64Hex(Buffer.from('a')), 'af63dc4c8601ec8c');
  assert.equal(fnv1a64Hex(Buffer.from('foobar')), '85944171f73967e8');
});

test('always 16 lowercase hex digits', () => {
  for (let i = 0; i < 2000; i++) {
    const h = fnv1a64Hex(Buffer.from(String(i)));
    assert.match(h, /^[0-9a-f]{16}$/);
  }
});

test('matches a BigInt reference on arbitrary bytes', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    assert.equal(fnv1a64Hex(bytes), reference(bytes));
  }), { numRuns: 500 });
});

test('matches the reference on every byte value and a long input', () => {
  const all = Buffer.alloc(256 * 40);
  for (let i = 0; i < all.length; i++) all[i] = (i * 7 + (i >> 8)) & 0xff;
  assert.equal(fnv1a64Hex(all), reference(all));
  assert.equal(fnv1a64Hex(Buffer.alloc(1000, 0xff)), reference(Buffer.alloc(1000, 0xff)));
});
