import type { SourceKind } from './source.js';
import { fileKind } from './file.js';
import { httpKind } from './http.js';
import { tcpKind } from './tcp.js';
import { unixKind } from './unix.js';
import { udpKind } from './udp.js';
import { rtpKind } from './rtp.js';
import { forkKind } from './fork.js';
import { unixgramKind, unixpacketKind } from './unixgram.js';

// Every upstream kind, one line each. Adding a kind = one module in src/sources/ and
// one entry here; nothing else switches on the scheme.
export const SOURCE_KINDS: readonly SourceKind[] = [
  httpKind,
  fileKind,
  tcpKind,
  unixKind,
  udpKind,
  rtpKind,
  forkKind,
  unixgramKind,
  unixpacketKind,
];

export function findSourceKind(scheme: string): SourceKind | undefined {
  const s = scheme.replace(/:$/, '').toLowerCase();
  return SOURCE_KINDS.find((k) => k.schemes.includes(s));
}

export function knownSchemes(): string[] {
  return SOURCE_KINDS.flatMap((k) => k.schemes);
}
