// A stream's remotes as the supervisor holds them: the shuffle, what cannot be opened,
// and the reason the remote in use was switched to (SwitchReasons).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RestreamerError } from '../../../src/errors.js';
import { fisherYates, remoteOf, SwitchReasons } from '../../../src/sources/remotes.js';
import type { SourceKind } from '../../../src/sources/source.js';

test('fisherYates returns a permutation and leaves its input alone', () => {
  const a = [1, 2, 3, 4, 5, 6, 7, 8];
  const b = fisherYates(a);
  assert.deepEqual(a, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual([...b].sort((x, y) => x - y), a);
});

test('remoteOf: a known scheme is opened with its kind; an unknown one or a bad URL fails with UPSTREAM_UNSUPPORTED; passwords redacted', () => {
  const kind = { schemes: ['http'] } as unknown as SourceKind;
  const find = (s: string) => (s === 'http:' ? kind : undefined);
  const ok = remoteOf('http://u:pw@h/x.ts', find);
  assert.equal(ok.safe, 'http://u:***@h/x.ts');
  assert.ok(!(ok.target instanceof RestreamerError) && ok.target.kind === kind);
  for (const raw of ['gopher://h/x', 'not a url']) {
    const r = remoteOf(raw, find);
    assert.ok(r.target instanceof RestreamerError && r.target.code === 'UPSTREAM_UNSUPPORTED', raw);
  }
});

test('SwitchReasons: the first connection, failures before one, a lost connection and a health failover', () => {
  const r = new SwitchReasons();
  assert.equal(r.current, undefined);
  r.delivering(10);
  assert.deepEqual(r.current, { kind: 'start', from: undefined, detail: undefined, failed: 0, since: 10 });
  r.ended('a', new RestreamerError('UPSTREAM_IO', 'reset'), false);
  assert.equal(r.current, undefined, 'none in use');
  r.failed('b', new RestreamerError('UPSTREAM_NO_SYNC', 'no lock'));
  r.delivering(20);
  assert.deepEqual(r.current, { kind: 'lost', from: 'a', detail: 'UPSTREAM_IO: reset', failed: 1, since: 20 }, 'the loss stays the reason');
  r.ended('c', new RestreamerError('UPSTREAM_UNHEALTHY', 'pid_error raised for 2 s'), true);
  r.delivering(30);
  assert.deepEqual(r.current, { kind: 'health', from: 'c', detail: 'UPSTREAM_UNHEALTHY: pid_error raised for 2 s', failed: 0, since: 30 });
  r.ended('d', undefined, false);
  r.delivering(40);
  assert.deepEqual(r.current, { kind: 'lost', from: 'd', detail: undefined, failed: 0, since: 40 });
  // Fresh: failures before the first connection of a new round.
  const f = new SwitchReasons();
  f.failed('a', new RestreamerError('UPSTREAM_NO_SYNC', 'x'));
  f.failed('b', new RestreamerError('UPSTREAM_ENDED', 'y'));
  f.delivering(5);
  assert.deepEqual(f.current, { kind: 'failed', from: 'b', detail: 'UPSTREAM_ENDED: y', failed: 2, since: 5 });
});
