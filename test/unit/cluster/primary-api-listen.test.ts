// The primary's internal socket cannot be bound: a catalogue error naming the internal
// socket, never a system error the CLI would take for the public listen address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrimaryApiServer } from '../../../src/cluster/primary-api.js';
import { RestreamerError } from '../../../src/errors.js';
import { capturedLogger } from '../../helpers/inproc.js';

test('a path already taken: INTERNAL_SOCKET naming the path and the reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-api-'));
  try {
    const path = join(dir, 'api.sock');
    writeFileSync(path, 'x');
    const server = new PrimaryApiServer('secret', capturedLogger().log);
    await assert.rejects(server.listen(path), (e: unknown) => {
      assert.ok(e instanceof RestreamerError);
      assert.equal(e.code, 'INTERNAL_SOCKET');
      assert.match(e.message, /^cannot create the internal socket of the worker processes in .*api\.sock: .*EADDRINUSE/);
      return true;
    });
    await server.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
