import type { SourceKind } from './source.js';
import { fileKind } from './kinds/file.js';
import { httpKind } from './kinds/http.js';
import { tcpKind } from './kinds/tcp.js';
import { unixKind } from './kinds/unix.js';
import { udpKind } from './kinds/udp.js';
import { rtpKind } from './kinds/rtp.js';
import { forkKind } from './kinds/fork.js';
import { unixgramKind, unixpacketKind } from './kinds/unixgram.js';

// Every upstream kind, one line each. Adding a kind = one module in src/sources/kinds/
// and one entry here; nothing else switches on the scheme. What the kinds share (the
// Source interface, UpstreamBase, socket and datagram upstreams, the supervisor) lives
// in src/sources/ itself.
const SOURCE_KINDS: readonly SourceKind[] = [
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
