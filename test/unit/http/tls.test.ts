// The HTTPS pair as http/tls.ts judges it, on certificates made by openssl: a good pair
// passes, and every way a rotation goes wrong is refused with its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXPIRY_WARNING_DAYS, expiryWarning, readTlsPair, secureOptions } from '../../../src/http/tls.js';
import { RestreamerError } from '../../../src/errors.js';
import { TestCa } from '../../helpers/tls.js';

const DAY = 86_400_000;

function refused(fn: () => unknown, why: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof RestreamerError && e.code === 'TLS_PAIR_INVALID' && why.test(e.message));
}

test('a good pair is read with its subject and expiry; a warning only within 14 days of it', () => {
  const ca = new TestCa();
  try {
    const files = ca.issue('good', { cn: 'example.test', days: 30 });
    const pair = readTlsPair(files);
    assert.equal(pair.subject, 'CN=example.test');
    assert.ok(Math.abs(pair.notAfter.getTime() - (Date.now() + 30 * DAY)) < 120_000);
    assert.deepEqual(secureOptions(pair, 'TLSv1.3'), { cert: pair.cert, key: pair.key, minVersion: 'TLSv1.3' });
    assert.equal(expiryWarning(pair, files), undefined);
    const soon = pair.notAfter.getTime() - (EXPIRY_WARNING_DAYS - 1) * DAY;
    assert.match(expiryWarning(pair, files, soon) ?? '', /expires on .* in 13 day\(s\)/);
    assert.equal(expiryWarning(pair, files, pair.notAfter.getTime() - (EXPIRY_WARNING_DAYS + 1) * DAY), undefined);
  } finally {
    ca.close();
  }
});

test('refused with the reason: missing files, not PEM, a key of another certificate, expired, not yet valid', () => {
  const ca = new TestCa();
  try {
    const a = ca.issue('a');
    const b = ca.issue('b');
    refused(() => readTlsPair({ cert: join(ca.dir, 'none.pem'), key: a.key }), /cannot read the certificate file .*none\.pem: no such file/);
    refused(() => readTlsPair({ cert: a.cert, key: ca.dir }), /cannot read the key file .*: is a directory/);
    const junk = join(ca.dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate\n');
    refused(() => readTlsPair({ cert: junk, key: a.key }), /holds no PEM certificate/);
    refused(() => readTlsPair({ cert: a.cert, key: junk }), /no usable PEM private key/);
    refused(() => readTlsPair({ cert: a.cert, key: b.key }), /the key does not belong to the certificate/);
    refused(() => readTlsPair(ca.issue('old', { days: -1 })), /expired on/);
    const fresh = ca.issue('fresh');
    refused(() => readTlsPair(fresh, Date.now() - 2 * DAY), /not valid before/);
  } finally {
    ca.close();
  }
});
