/**
 * A URL fit for logs, messages and APIs: its password, if any, replaced by `***`. A string
 * that does not parse as a URL (a config mistake) still has the password of a
 * `scheme://user:password@host` prefix hidden, since it is printed to say what was wrong.
 */
export function redactUrl(url: URL | string): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    return redactUnparsed(String(url));
  }
  if (!u.password) return u.href;
  u.password = '***';
  return u.href;
}

/** The authority ends at the first '/', '\', '?' or '#'; its userinfo at the last '@' in it (as URL parsers read it). */
function redactUnparsed(s: string): string {
  const m = /^([a-z][a-z0-9+.-]*:[/\\]{2})([^/\\?#]*)/is.exec(s);
  if (!m) return s;
  const authority = m[2]!;
  const at = authority.lastIndexOf('@');
  const colon = authority.indexOf(':');
  if (at < 0 || colon < 0 || colon > at) return s;
  return m[1]! + authority.slice(0, colon + 1) + '***' + authority.slice(at) + s.slice(m[0].length);
}

/** A request target with its query replaced by `?***` (signed URLs carry their token there), for logs. */
export function redactQuery(target: string | undefined): string | undefined {
  const q = target?.indexOf('?') ?? -1;
  return q < 0 ? target : `${target!.slice(0, q)}?***`;
}
