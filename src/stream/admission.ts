/**
 * Connection admission across all streams: the hard limit (`maxconnections`, 0 = none)
 * is exact because acquire() and release() are synchronous on one event loop.
 */
export class Admission {
  private count = 0;
  private readonly listeners: ((n: number) => void)[] = [];

  constructor(private maxConnections: number) {}

  get max(): number { return this.maxConnections; }

  /** A reloaded configuration's hard limit; clients over it stay, new ones wait below it. */
  setMax(max: number): void { this.maxConnections = max; }

  get connections(): number { return this.count; }

  /** Take a slot; false when the hard limit is reached. */
  tryAcquire(): boolean {
    if (this.max > 0 && this.count >= this.max) return false;
    this.count++;
    this.notify();
    return true;
  }

  /** AdmissionGate: the same, synchronously. */
  acquire(): boolean { return this.tryAcquire(); }

  release(): void {
    if (this.count === 0) return;
    this.count--;
    this.notify();
  }

  /** Called with the new count after every change (soft-limit watcher, metrics). Returns the unsubscribe. */
  onChange(fn: (n: number) => void): () => void {
    this.listeners.push(fn);
    return () => { const i = this.listeners.indexOf(fn); if (i >= 0) this.listeners.splice(i, 1); };
  }

  private notify(): void {
    for (const fn of this.listeners) fn(this.count);
  }
}
