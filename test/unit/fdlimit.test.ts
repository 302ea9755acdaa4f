import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fdLimitWarning, openFileLimit } from '../../src/fdlimit.js';

test('reads this process\'s open-file limit', () => {
  const l = openFileLimit();
  assert.ok(l, '/proc/self/limits is readable on Linux');
  assert.ok(l.soft > 0 && l.hard >= l.soft);
});

test('warns only when maxconnections and upstreams exceed the soft limit, naming the fix', () => {
  const limit = { soft: 1024, hard: 4096 };
  assert.equal(fdLimitWarning(0, 5, limit), undefined, 'no hard limit on clients: nothing to compare');
  assert.equal(fdLimitWarning(900, 10, limit), undefined);
  const w = fdLimitWarning(1000, 10, limit);
  assert.match(w ?? '', /open-file limit is 1024/);
  assert.match(w ?? '', /LimitNOFILE=/);
  assert.match(w ?? '', /ulimit -n 1074/);
});
