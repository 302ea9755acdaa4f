// In-process tests of the composition roots (src/roles/): a validated configuration from
// a plain object, and a live-like upstream of synthetic packets on loopback.
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { makeStream } from './packets.js';
import { preloadApis } from '../../src/roles/apis.js';
import { PacedServer } from './upstream.js';

/**
 * `raw` validated as restreamer.json would be (defaults filled in; relative paths from
 * `dir`), with the modules of its APIs loaded, as the CLI does before building the roles.
 */
export async function configOf(raw: Record<string, unknown>, dir = '/'): Promise<Config> {
  const cfg = await parseConfig(JSON.stringify({ listen: '127.0.0.1:0', ...raw }), dir);
  await preloadApis(cfg);
  return cfg;
}

/** An HTTP upstream sending numbered packets on one PID, about 200 kB/s, started. */
export async function packetUpstream(): Promise<PacedServer> {
  const up = new PacedServer(makeStream(1000), 1000 * 188);
  await up.start();
  return up;
}

/** The Authorization header of a basic-auth user. */
export function basic(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}
