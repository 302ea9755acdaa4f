// Wire framing of the hub's batches: HTTP/1.1 chunked coding built into the same buffer as
// the data (one write per client per batch), or the bytes as they are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { framed, framedFromRing } from '../../../src/hub/framing.js';
import { PacketRing } from '../../../src/hub/ring.js';
import { makeStream, seqs, PKT } from '../../helpers/packets.js';

/** One chunk of HTTP/1.1 chunked coding: its data; throws unless `buf` is exactly one well-formed chunk. */
function oneChunk(buf: Buffer): Buffer {
  const eol = buf.indexOf('\r\n');
  assert.ok(eol > 0, 'a size line');
  const sizeText = buf.toString('latin1', 0, eol);
  assert.match(sizeText, /^[0-9a-f]+$/, 'lower-case hex size, no extensions');
  const size = parseInt(sizeText, 16);
  assert.equal(buf.length, eol + 2 + size + 2, 'size line, data and CRLF, nothing else');
  assert.equal(buf.toString('latin1', buf.length - 2), '\r\n');
  return buf.subarray(eol + 2, eol + 2 + size);
}

test('framed raw: the data itself, no copy', () => {
  const data = makeStream(3);
  assert.equal(framed('raw', data), data);
});

test('framed chunked: one chunk holding a copy of the data', () => {
  for (const n of [1, 7, 100, 349]) {
    const data = makeStream(n);
    const out = framed('chunked', data);
    assert.deepEqual(oneChunk(out), data, `${n} packets`);
    data.fill(0);
    assert.notDeepEqual(oneChunk(out), data, 'a copy, not a view of the input');
  }
  assert.equal(framed('chunked', Buffer.from('hello')).toString('latin1'), '5\r\nhello\r\n');
  assert.equal(framed('chunked', Buffer.alloc(188, 1)).subarray(0, 4).toString('latin1'), 'bc\r\n');
});

test('framedFromRing: packets [from, to) in one fresh buffer, across the ring\'s wrap, raw or chunked', () => {
  const ring = new PacketRing(10);
  const s = makeStream(26);
  ring.write(s, 0, 8);
  ring.write(s, 8 * PKT, 8);  // wraps: slots 8, 9, then 0..5
  ring.write(s, 16 * PKT, 10); // tail is now 16
  for (const [from, to] of [[16, 26], [17, 23], [19, 21], [25, 26]] as const) {
    const raw = framedFromRing('raw', ring, from, to);
    assert.deepEqual(seqs(raw), Array.from({ length: to - from }, (_, i) => from + i), `raw ${from}..${to}`);
    const chunked = framedFromRing('chunked', ring, from, to);
    assert.deepEqual(oneChunk(chunked), raw, `chunked ${from}..${to}`);
  }
  // A copy: the ring may rewrite the slot while the kernel still sends the buffer.
  const out = framedFromRing('chunked', ring, 20, 22);
  ring.write(makeStream(10, 0x200, 1000), 0, 10);
  assert.deepEqual(seqs(oneChunk(out)), [20, 21]);
  assert.throws(() => framedFromRing('raw', ring, 20, 22), RangeError, 'data no longer held');
});
