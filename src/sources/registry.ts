import type { SourceKind } from './source.js';

// Every upstream kind, one line each. Adding a kind = one module in src/sources/ and
// one entry here; nothing else switches on the scheme.
export const SOURCE_KINDS: readonly SourceKind[] = [
];

export function findSourceKind(scheme: string): SourceKind | undefined {
  const s = scheme.replace(/:$/, '').toLowerCase();
  return SOURCE_KINDS.find((k) => k.schemes.includes(s));
}

export function knownSchemes(): string[] {
  return SOURCE_KINDS.flatMap((k) => k.schemes);
}
