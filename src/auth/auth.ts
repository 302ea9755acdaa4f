import { createHash, timingSafeEqual } from 'node:crypto';
import type { AuthenticationConfig } from '../config/schema.js';
import { authUsers } from '../config/users.js';
import { checkToken, tokenParam, type TokenFailure } from './token.js';

// Resource authentication with the original's semantics: type "" allows everything,
// "basic" checks `Basic base64(user:password)` (401 + challenge on failure), "bearer"
// checks `Bearer <password>` (403 on failure), any other type denies everything. Only
// users named in `user`/`users` that exist in the userlist may pass; an empty list
// admits nobody. "token" (our addition) checks a signed, expiring URL (token.ts), 403 on
// failure.

export type Userlist = Record<string, { password: string }>;

export type AuthResult =
  | { ok: true; user?: string }
  | {
    ok: false; status: 401 | 403; headers: Record<string, string>; user?: string;
    /** Why a token was refused (for the log). */
    reason?: TokenFailure;
    /** Credentials were given and were wrong (what brute-force protection counts). */
    wrong?: true;
  };

/** What the token type checks beside the Authorization header: where the request arrived. */
export interface AuthRequest {
  /** The request target as received (req.url). */
  target: string;
  /** The client's address (the socket's). */
  address: string | undefined;
}

export type Authorizer = (authorizationHeader: string | undefined, req?: AuthRequest) => AuthResult;

interface Credential {
  user: string;
  digest: Buffer;
}

const ALLOW: AuthResult = Object.freeze({ ok: true as const });
const FORBIDDEN: AuthResult = Object.freeze({ ok: false as const, status: 403 as const, headers: Object.freeze({}) });
// Strict base64: Buffer.from(x, 'base64') silently skips junk, which would accept
// headers the original rejects.
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function sha256(data: string | Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/** `user` first, then `users`, without repeats, restricted to users in the userlist. */
export function allowedUsers(auth: Pick<AuthenticationConfig, 'user' | 'users'>, userlist: Userlist): string[] {
  return authUsers(auth).filter((u) => Object.hasOwn(userlist, u));
}

/** Users named in the config but missing from the userlist (for a startup warning). */
export function unknownUsers(auth: Pick<AuthenticationConfig, 'user' | 'users'>, userlist: Userlist): string[] {
  return authUsers(auth).filter((u) => !Object.hasOwn(userlist, u));
}

/**
 * The token after `scheme` (case-insensitive) in an Authorization header, or undefined
 * when the header is missing, uses another scheme or has no token.
 */
function tokenFor(header: string | undefined, scheme: string): string | undefined {
  if (header === undefined) return undefined;
  const h = header.trim();
  const sp = h.search(/\s/);
  if (sp !== scheme.length || h.slice(0, sp).toLowerCase() !== scheme) return undefined;
  const token = h.slice(sp + 1).trim();
  return token === '' ? undefined : token;
}

/**
 * Compare a digest against every credential without an early exit, so neither the
 * position of a match nor the secrets' lengths show in the timing.
 */
function match(creds: readonly Credential[], digest: Buffer): string | undefined {
  let found: string | undefined;
  for (const c of creds) {
    if (timingSafeEqual(c.digest, digest) && found === undefined) found = c.user;
  }
  return found;
}

function quote(s: string): string {
  return s.replace(/["\\]/g, '\\$&');
}

/**
 * The decoded path of a request target (origin form "/a/b?q" or absolute form
 * "http://host/a/b?q"), as the router matches it; undefined when it has none.
 */
function targetPath(target: string): string | undefined {
  let raw = target;
  if (!raw.startsWith('/')) {
    try {
      raw = new URL(raw).pathname;
    } catch {
      return undefined;
    }
  }
  const end = raw.search(/[?#]/);
  try {
    return decodeURIComponent(end < 0 ? raw : raw.slice(0, end));
  } catch {
    return undefined;
  }
}

function tokenAuthorizer(auth: AuthenticationConfig, nowMs: () => number): Authorizer {
  const key = Buffer.from(auth.key ?? '', 'hex');
  // The config check refuses a token type without a key; refuse everything if one slips by.
  if (key.length === 0) return () => FORBIDDEN;
  return (_header, req) => {
    const path = req && targetPath(req.target);
    const token = req && tokenParam(req.target, auth.param ?? 'token');
    const check = path === undefined
      ? { ok: false as const, reason: token === undefined ? 'missing' as const : 'malformed' as const }
      : checkToken(token, key, { path, address: req?.address, nowMs: nowMs() });
    if (check.ok) return ALLOW;
    // Only a forged or mangled token is a guess; a signed one used late, early, elsewhere or
    // from another address is a real viewer's and is not counted against the address.
    const wrong = check.reason === 'tampered' || check.reason === 'malformed';
    return { ok: false, status: 403, headers: {}, reason: check.reason, ...(wrong ? { wrong: true as const } : {}) };
  };
}

export function createAuthorizer(auth: AuthenticationConfig | undefined, userlist: Userlist, nowMs: () => number = Date.now): Authorizer {
  const type = auth?.type ?? '';
  if (type === '' || auth === undefined) return () => ALLOW;
  if (type === 'token') return tokenAuthorizer(auth, nowMs);

  const users = allowedUsers(auth, userlist);

  if (type === 'basic') {
    const creds: Credential[] = users.map((u) => ({ user: u, digest: sha256(Buffer.from(`${u}:${userlist[u]!.password}`, 'utf8')) }));
    const headers = Object.freeze({ 'WWW-Authenticate': `Basic realm="${quote(auth.realm)}" charset="UTF-8"` });
    const challenge: AuthResult = Object.freeze({ ok: false as const, status: 401 as const, headers });
    // A browser's first request carries no credentials: only a header that was sent counts as wrong.
    const wrong: AuthResult = Object.freeze({ ok: false as const, status: 401 as const, headers, wrong: true as const });
    return (header) => {
      const given = header !== undefined && header.trim() !== '';
      const token = tokenFor(header, 'basic');
      if (token === undefined || !BASE64.test(token)) return given ? wrong : challenge;
      const decoded = Buffer.from(token, 'base64');
      const user = match(creds, sha256(decoded));
      if (user !== undefined) return { ok: true, user };
      // The claimed name goes to the access log; the password never leaves here.
      const text = decoded.toString('utf8');
      const colon = text.indexOf(':');
      return colon > 0 ? { ok: false, status: 401, headers, user: text.slice(0, colon), wrong: true } : wrong;
    };
  }

  if (type === 'bearer') {
    const creds: Credential[] = users.map((u) => ({ user: u, digest: sha256(Buffer.from(userlist[u]!.password, 'utf8')) }));
    const wrong: AuthResult = Object.freeze({ ok: false as const, status: 403 as const, headers: Object.freeze({}), wrong: true as const });
    return (header) => {
      const token = tokenFor(header, 'bearer');
      if (token === undefined) return header === undefined || header.trim() === '' ? FORBIDDEN : wrong;
      const user = match(creds, sha256(Buffer.from(token, 'utf8')));
      return user !== undefined ? { ok: true, user } : wrong;
    };
  }

  return () => FORBIDDEN;
}

/**
 * The Authorization header value the original sends for `user` (notifications), or
 * undefined when the type is not basic/bearer or the user is not in the userlist.
 */
export function authorizationHeader(type: string, user: string | undefined, userlist: Userlist): string | undefined {
  if (user === undefined || !Object.hasOwn(userlist, user)) return undefined;
  const password = userlist[user]!.password;
  if (type === 'basic') return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
  if (type === 'bearer') return `Bearer ${password}`;
  return undefined;
}
