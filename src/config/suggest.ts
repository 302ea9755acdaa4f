// "Did you mean ...?" for config keys and enum values: a misspelt key should point at
// the key the person meant, not just say "unknown".

/** Edit distance with adjacent transpositions counted as one edit ("remtoe" -> "remote" = 1). */
export function editDistance(a: string, b: string): number {
  const n = a.length;
  const m = b.length;
  if (n === 0) return m;
  if (m === 0) return n;
  // Three rolling rows: the transposition step looks two rows back.
  let prev2 = new Array<number>(m + 1).fill(0);
  let prev = Array.from({ length: m + 1 }, (_, j) => j);
  let cur = new Array<number>(m + 1).fill(0);
  for (let i = 1; i <= n; i++) {
    cur[0] = i;
    for (let j = 1; j <= m; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      cur[j] = d;
    }
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[m]!;
}

/**
 * The candidate closest to `word` (case-insensitive), when it is close enough to be a
 * plausible typo: at most 1 edit for short words, 2 up to 6 characters, 3 beyond; failing
 * that, a candidate that begins with the word or that the word begins with ("pass").
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  const limit = w.length <= 3 ? 1 : w.length <= 6 ? 2 : 3;
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    if (c === '') continue;
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  if (bestD <= limit) return best;
  if (w.length < 3) return undefined;
  let prefixed: string | undefined;
  for (const c of candidates) {
    const l = c.toLowerCase();
    if (c !== '' && (l.startsWith(w) || w.startsWith(l)) && (!prefixed || Math.abs(c.length - w.length) < Math.abs(prefixed.length - w.length))) prefixed = c;
  }
  return prefixed;
}

/** ` (did you mean "x"?)` or "" — ready to append to a message. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const c = closest(word, candidates);
  return c === undefined ? '' : ` (did you mean ${JSON.stringify(c)}?)`;
}
