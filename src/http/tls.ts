import { readFileSync } from 'node:fs';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { RestreamerError, errnoOf, errorText } from '../errors.js';

// The certificate and key of the HTTPS listener (`tls` in the configuration): read and
// judged before they are used, at start, by --check and on every SIGHUP, so a broken
// pair (certbot halfway through a renewal, a key from another certificate, an expired
// certificate) is refused with its reason and never replaces a working one.

/** A certificate that expires within this many days is warned about. */
export const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;

/** The files of a pair, as the configuration names them. */
export interface TlsFiles {
  cert: string;
  key: string;
}

/** A certificate chain and its key, read and checked. */
export interface TlsPair {
  cert: Buffer;
  key: Buffer;
  /** The leaf certificate's subject, e.g. "CN=example.org". */
  subject: string;
  notAfter: Date;
}

/**
 * Read `files` and check them: both readable PEM, the key the leaf certificate's own,
 * the certificate valid at `now`, and the pair usable by Node's TLS. Throws
 * RestreamerError('TLS_PAIR_INVALID') naming what is wrong.
 */
export function readTlsPair(files: TlsFiles, now = Date.now()): TlsPair {
  const fail = (why: string): never => {
    throw new RestreamerError('TLS_PAIR_INVALID', { cert: files.cert, key: files.key, why });
  };
  const cert = readFile(files.cert, 'certificate', fail);
  const key = readFile(files.key, 'key', fail);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (e) {
    return fail(`the certificate file holds no PEM certificate (${errorText(e)})`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    return fail(`the key file holds no usable PEM private key, or an encrypted one (${errorText(e)})`);
  }
  if (!leaf.checkPrivateKey(privateKey)) fail('the key does not belong to the certificate (a new certificate with the old key, or the files swapped?)');
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (now < notBefore.getTime()) fail(`the certificate is not valid before ${notBefore.toISOString()}`);
  if (now > notAfter.getTime()) fail(`the certificate expired on ${notAfter.toISOString()}`);
  try {
    createSecureContext({ cert, key });
  } catch (e) {
    fail(`Node's TLS cannot use the pair: ${errorText(e)}`);
  }
  return { cert, key, subject: leaf.subject.replace(/\n/g, ', '), notAfter };
}

/** A warning when `pair` expires within EXPIRY_WARNING_DAYS of `now`; undefined otherwise. */
export function expiryWarning(pair: TlsPair, files: TlsFiles, now = Date.now()): string | undefined {
  const left = pair.notAfter.getTime() - now;
  if (left > EXPIRY_WARNING_DAYS * DAY_MS) return undefined;
  const days = Math.max(0, Math.floor(left / DAY_MS));
  return `TLS certificate ${files.cert} (${pair.subject}) expires on ${pair.notAfter.toISOString()}, in ${days} day(s): renew it, then send SIGHUP`;
}

/** What the HTTPS server's secure context is made of. */
export function secureOptions(pair: TlsPair, minVersion: 'TLSv1.2' | 'TLSv1.3'): SecureContextOptions {
  return { cert: pair.cert, key: pair.key, minVersion };
}

function readFile(path: string, what: string, fail: (why: string) => never): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = errnoOf(e).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : errorText(e);
    return fail(`cannot read the ${what} file ${path}: ${why}`);
  }
}
