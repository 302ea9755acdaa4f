import { readFileSync } from 'node:fs';
import { isIP, isIPv6 } from 'node:net';
import { RestreamerError } from '../errors.js';

// The `listen` key, read the way Go's net.Listen reads it: "host:port", ":port",
// "[::1]:port", a service name instead of the port (":http"), an empty port meaning
// "any free port".

export interface ListenAddress {
  /** undefined = all interfaces. */
  host: string | undefined;
  port: number;
}

// Always known, so ":http" works even where /etc/services is missing (containers).
const BUILTIN_SERVICES: Readonly<Record<string, number>> = { http: 80, https: 443, 'http-alt': 8080, www: 80, webcache: 8080 };

const HOSTNAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

/** Parse a listen address; throws RestreamerError(CONFIG_INVALID) with a message a person can act on. */
export function parseListen(listen: string, servicesFile = '/etc/services'): ListenAddress {
  const fail = (why: string): never => {
    throw new RestreamerError('CONFIG_INVALID', `invalid listen address ${JSON.stringify(listen)}: ${why}; expected "host:port", ":port", "[::1]:port" or a service name such as ":http"`);
  };
  let host: string;
  let portText: string;
  if (listen.startsWith('[')) {
    const close = listen.indexOf(']');
    if (close < 0) return fail('missing "]" after the IPv6 address');
    host = listen.slice(1, close);
    if (listen[close + 1] !== ':') return fail('missing ":port" after "]"');
    portText = listen.slice(close + 2);
    if (!isIPv6(host)) return fail(`"${host}" is not an IPv6 address`);
  } else {
    const colon = listen.lastIndexOf(':');
    if (colon < 0) return fail('missing ":port"');
    host = listen.slice(0, colon);
    portText = listen.slice(colon + 1);
    if (host.includes(':')) return fail('an IPv6 address needs brackets, e.g. "[::1]:8000"');
    if (host !== '' && isIP(host) === 0 && !HOSTNAME.test(host)) return fail(`"${host}" is not a valid host name or address`);
  }
  return { host: host === '' ? undefined : host, port: parsePort(portText, servicesFile, fail) };
}

function parsePort(text: string, servicesFile: string, fail: (why: string) => never): number {
  if (text === '') return 0; // Go: an empty port picks a free one
  if (/^[0-9]+$/.test(text)) {
    const port = Number(text);
    if (port > 65535) return fail(`port ${text} is out of range (0-65535)`);
    return port;
  }
  const name = text.toLowerCase();
  const builtin = BUILTIN_SERVICES[name];
  if (builtin !== undefined) return builtin;
  const found = lookupService(name, servicesFile);
  if (found !== undefined) return found;
  return fail(`unknown service name "${text}" (not a number and not a tcp service in ${servicesFile})`);
}

/** TCP port of a service name or alias in an /etc/services style file; undefined when absent. */
function lookupService(name: string, servicesFile = '/etc/services'): number | undefined {
  let text: string;
  try {
    text = readFileSync(servicesFile, 'utf8');
  } catch {
    return undefined; // no services database: only the built-in names are known
  }
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const [service, portProto, ...aliases] = line.split(/\s+/);
    const m = /^([0-9]+)\/tcp$/i.exec(portProto ?? '');
    if (!m) continue;
    if (service?.toLowerCase() === name || aliases.some((a) => a.toLowerCase() === name)) return Number(m[1]);
  }
  return undefined;
}
