import net from 'node:net';
import os from 'node:os';
import { RestreamerError } from '../errors.js';

// Addressing shared by udp:// and rtp://: `host:port` (unicast bind), `GROUP:PORT`
// (any-source multicast join) and `SOURCE@GROUP:PORT` (source-specific multicast).
// IPv6 literals go in brackets: `udp://[ff15::1]:5000`; an IPv6 SSM source must be
// percent-encoded in the user part (`udp://2001%3Adb8%3A%3A1@[ff3e::1]:5000`).

export interface DatagramAddress {
  /** Address to bind: the group for multicast (Linux then only delivers that group), else the local host. */
  host: string;
  port: number;
  family: 4 | 6;
  multicast: boolean;
  /** SSM source address, when given. */
  source: string | undefined;
}

function isMulticast(ip: string): boolean {
  const fam = net.isIP(ip);
  if (fam === 4) {
    const first = Number(ip.slice(0, ip.indexOf('.')));
    return first >= 224 && first <= 239;
  }
  if (fam === 6) return ip.toLowerCase().startsWith('ff');
  return false;
}

function unbracket(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** Parse a udp/rtp URL; throws an Error whose message a person can act on. */
export function parseDatagramUrl(url: URL): DatagramAddress {
  const scheme = url.protocol.replace(/:$/, '');
  const form = `${scheme}://host:port, ${scheme}://GROUP:PORT or ${scheme}://SOURCE@GROUP:PORT`;
  const host = unbracket(url.hostname);
  if (!host) throw new Error(`needs an address: ${form}`);
  if (!url.port) throw new Error(`needs a port: ${form}`);
  const port = Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`port must be 1..65535, got ${url.port}`);
  if (url.password) throw new Error(`a password has no meaning here; the user part is the SSM source: ${form}`);
  const ipFamily = net.isIP(host);
  const family: 4 | 6 = ipFamily === 6 ? 6 : 4;
  const multicast = isMulticast(host);
  let source: string | undefined;
  if (url.username) {
    source = decodeURIComponent(url.username);
    if (!multicast) throw new Error(`"${source}@${host}": a source (SSM) needs a multicast group address after the @`);
    if (net.isIP(source) !== ipFamily) throw new Error(`SSM source "${source}" must be an IPv${family} address, like the group ${host}`);
    if (isMulticast(source)) throw new Error(`SSM source "${source}" is a multicast address; write SOURCE@GROUP:PORT`);
  }
  return { host, port, family, multicast, source };
}

export function validateDatagramUrl(url: URL): string | undefined {
  try {
    parseDatagramUrl(url);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * The `multicastInterface` argument for joins, from `clientinterface` (an interface
 * name as in the original, e.g. "eth0"; an address is accepted too). IPv4 joins name the
 * interface by its address; IPv6 joins by scope (`::%eth0`). Undefined = system default.
 */
export function multicastInterface(name: string | undefined, family: 4 | 6): string | undefined {
  if (!name) return undefined;
  if (net.isIP(name)) {
    if (net.isIP(name) !== family) throw new RestreamerError('UPSTREAM_INTERFACE', `clientinterface ${name} is not an IPv${family} address`);
    return name;
  }
  const all = os.networkInterfaces();
  const addrs = all[name];
  if (!addrs) {
    throw new RestreamerError('UPSTREAM_INTERFACE', `clientinterface "${name}": no such network interface (available: ${Object.keys(all).join(', ') || 'none'})`);
  }
  if (family === 6) return `::%${name}`;
  const v4 = addrs.find((a) => a.family === 'IPv4');
  if (!v4) throw new RestreamerError('UPSTREAM_INTERFACE', `clientinterface "${name}" has no IPv4 address to join an IPv4 multicast group with`);
  return v4.address;
}
