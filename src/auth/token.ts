import { createHmac, timingSafeEqual } from 'node:crypto';
import { isIPv6 } from 'node:net';

// Signed, expiring URLs in the layout of Akamai's EdgeAuth tokens, so the generators
// operators already have (and two lines of openssl) make them: `~`-separated `name=value`
// fields, in any order, with `hmac=` last:
//   ip=<address>~st=<unix>~exp=<unix>~acl=<path>[!<path>...]~id=<x>~data=<x>~hmac=<hex>
// `hmac` is HMAC-SHA256, under the key's bytes, of the text before `~hmac=`. Only `exp`
// and `acl` are required; `id` and `data` are carried for the issuer and ignored here.

/** Why a token was refused (logged; never the token itself). */
export type TokenFailure = 'missing' | 'malformed' | 'tampered' | 'expired' | 'not_yet_valid' | 'wrong_path' | 'wrong_address';

export type TokenCheck = { ok: true } | { ok: false; reason: TokenFailure };

/** What a token is checked against: the request's decoded path, its client address, the time. */
export interface TokenRequest {
  path: string;
  address: string | undefined;
  nowMs: number;
}

interface TokenFields {
  ip?: string;
  st?: number;
  exp: number;
  acl: string[];
}

const HMAC_FIELD = '~hmac=';
const HMAC_HEX = /^[0-9a-f]{64}$/;
const UNIX = /^\d{1,12}$/;
const KNOWN = new Set(['ip', 'st', 'exp', 'acl', 'id', 'data']);
/** Longer tokens are refused before any work: a URL's query is no place for kilobytes. */
const MAX_TOKEN_LENGTH = 4096;

/** IPv4-mapped IPv6 ("::ffff:192.0.2.1", as Node reports IPv4 clients on a dual-stack socket) as plain IPv4. */
export function plainAddress(a: string | undefined): string | undefined {
  return a?.toLowerCase().startsWith('::ffff:') === true && a.includes('.') ? a.slice(7) : a;
}

/** An address in one spelling: IPv4 as itself (IPv4-mapped too), IPv6 as the URL parser writes it ("2001:DB8:0::1" -> "2001:db8::1"). */
function canonicalAddress(a: string | undefined): string | undefined {
  const plain = plainAddress(a);
  if (plain === undefined || !isIPv6(plain)) return plain;
  try {
    return new URL(`http://[${plain}]/`).hostname.slice(1, -1);
  } catch {
    return plain.toLowerCase(); // a zone ("fe80::1%eth0"), which URLs cannot hold
  }
}

/**
 * Whether one ACL entry covers `path`: an entry ending in `*` covers every path starting
 * with what comes before it (`/a/*` covers `/a/b`, not `/ab`); any other entry only itself.
 */
export function aclCovers(entry: string, path: string): boolean {
  return entry.endsWith('*') ? path.startsWith(entry.slice(0, -1)) : path === entry;
}

/** The fields of the signed text, or undefined when it is not a well-formed token. */
function parseFields(signed: string): TokenFields | undefined {
  const seen = new Map<string, string>();
  for (const part of signed.split('~')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    const name = part.slice(0, eq);
    if (!KNOWN.has(name) || seen.has(name)) return undefined;
    seen.set(name, part.slice(eq + 1));
  }
  const exp = seen.get('exp');
  const st = seen.get('st');
  const acl = seen.get('acl');
  if (exp === undefined || !UNIX.test(exp) || (st !== undefined && !UNIX.test(st))) return undefined;
  if (acl === undefined) return undefined;
  const entries = acl.split('!');
  // A `*` is a prefix mark only at the end; anywhere else it would be a glob we do not do.
  if (entries.some((e) => e === '' || e.slice(0, -1).includes('*'))) return undefined;
  const ip = seen.get('ip');
  if (ip === '') return undefined;
  return { ip, st: st === undefined ? undefined : Number(st), exp: Number(exp), acl: entries };
}

/** HMAC-SHA256 of `text` under `key`, lowercase hex (what `hmac=` holds). */
export function tokenHmac(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

/**
 * Check a token. The signature is checked first (in constant time), so a forged token is
 * only ever "tampered" or "malformed": the time, path and address reasons are given only
 * to tokens this key signed. Valid while `st` <= now < `exp` (seconds since the epoch).
 */
export function checkToken(token: string | undefined, key: Buffer, req: TokenRequest): TokenCheck {
  if (token === undefined || token === '') return { ok: false, reason: 'missing' };
  const at = token.lastIndexOf(HMAC_FIELD);
  if (token.length > MAX_TOKEN_LENGTH || at <= 0) return { ok: false, reason: 'malformed' };
  const signed = token.slice(0, at);
  const given = token.slice(at + HMAC_FIELD.length);
  const fields = parseFields(signed);
  if (fields === undefined || !HMAC_HEX.test(given)) return { ok: false, reason: 'malformed' };
  const want = Buffer.from(tokenHmac(key, signed), 'hex');
  if (!timingSafeEqual(want, Buffer.from(given, 'hex'))) return { ok: false, reason: 'tampered' };
  const now = Math.floor(req.nowMs / 1000);
  if (fields.st !== undefined && now < fields.st) return { ok: false, reason: 'not_yet_valid' };
  if (now >= fields.exp) return { ok: false, reason: 'expired' };
  if (!fields.acl.some((e) => aclCovers(e, req.path))) return { ok: false, reason: 'wrong_path' };
  if (fields.ip !== undefined && canonicalAddress(fields.ip) !== canonicalAddress(req.address)) return { ok: false, reason: 'wrong_address' };
  return { ok: true };
}

/** The `param` query parameter of a request target ("/path?a=1&token=..."), URL-decoded once. */
export function tokenParam(target: string, param: string): string | undefined {
  const q = target.indexOf('?');
  if (q < 0) return undefined;
  const hash = target.indexOf('#', q);
  return new URLSearchParams(target.slice(q + 1, hash < 0 ? undefined : hash)).get(param) ?? undefined;
}
