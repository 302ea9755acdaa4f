/** A URL fit for logs, messages and APIs: its password, if any, replaced by `***`. */
export function redactUrl(url: URL | string): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    return String(url);
  }
  if (!u.password) return u.href;
  u.password = '***';
  return u.href;
}
