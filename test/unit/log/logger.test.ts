import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkLogFile, resolveLogFormat, rfc3339 } from '../../../src/log/logger.js';

test('rfc3339: Go\'s time.RFC3339 in local time (whole seconds, Z or the offset)', () => {
  const saved = process.env.TZ;
  try {
    process.env.TZ = 'UTC';
    assert.equal(rfc3339(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678))), '2024-01-02T03:04:05Z');
    process.env.TZ = 'Asia/Kolkata';
    assert.equal(rfc3339(new Date(Date.UTC(2024, 0, 2, 3, 4, 5))), '2024-01-02T08:34:05+05:30');
    process.env.TZ = 'America/St_Johns';
    assert.equal(rfc3339(new Date(Date.UTC(2024, 0, 2, 3, 4, 5))), '2024-01-01T23:34:05-03:30');
  } finally {
    if (saved === undefined) delete process.env.TZ; else process.env.TZ = saved;
  }
});

test('resolveLogFormat: readable only on a terminal without a log file; an explicit format wins', () => {
  assert.equal(resolveLogFormat(undefined, undefined, true), 'pretty');
  assert.equal(resolveLogFormat('auto', undefined, true), 'pretty');
  assert.equal(resolveLogFormat('auto', undefined, false), 'json');
  assert.equal(resolveLogFormat('auto', '/var/log/x.log', true), 'json');
  assert.equal(resolveLogFormat('json', undefined, true), 'json');
  assert.equal(resolveLogFormat('pretty', '/var/log/x.log', false), 'pretty');
  assert.equal(resolveLogFormat('restreamer', undefined, true), 'restreamer');
});

test('checkLogFile: says why a path cannot be opened, creates nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-logcheck-'));
  try {
    const file = join(dir, 'f');
    writeFileSync(file, '');
    assert.equal(checkLogFile(file), undefined, 'an existing file');
    assert.equal(checkLogFile(join(dir, 'new.log')), undefined, 'a new file in a folder');
    assert.equal(checkLogFile(join(dir, 'a', 'b', 'new.log')), undefined, 'in folders to be made');
    assert.equal(existsSync(join(dir, 'a')), false);
    assert.equal(existsSync(join(dir, 'new.log')), false);
    assert.match(checkLogFile(dir)!, /is a directory/);
    assert.match(checkLogFile(join(file, 'x.log'))!, /f is not a directory/);
    assert.match(checkLogFile(join(file, 'a', 'x.log'))!, /f is not a directory/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
