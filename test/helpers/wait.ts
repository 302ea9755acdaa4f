// The one way tests wait: for a condition (polled), never for a guessed time. `sleep` is
// for the few places where time passing is itself the point (a rate, a timer that must
// NOT fire); say why at the call.

/** Resolves after `ms` of real time. */
export function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }

/**
 * Resolves as soon as `pred()` holds (checked at once, then every `everyMs`); rejects
 * naming `what` after `timeoutMs`. `pred` may be async (a request, a file read).
 */
export async function until(pred: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition', everyMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
