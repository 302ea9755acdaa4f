import type { AuthenticationConfig } from './schema.js';

// Apart from the schema so that what checks a request's credentials (auth/auth.ts) does
// not load zod: a multi-process worker gets a validated configuration and never needs it.

/** The users an authentication stanza names: `user` first, then `users`, without repeats. */
export function authUsers(a: Pick<AuthenticationConfig, 'user' | 'users'> | undefined): string[] {
  if (!a) return [];
  return [...new Set(a.user ? [a.user, ...a.users] : a.users)];
}
