import { AddressGuard, type AuthGuard } from '../auth/guard.js';
import type { PrimaryMessage, WorkerMessage, WorkerStreamCounters } from './protocol.js';

/** How long a worker waits for the primary before giving up on a request, ms. */
const RPC_TIMEOUT_MS = 5000;

/**
 * The worker's side of the IPC channel: requests with replies (admission, on-demand)
 * and one-way reports (viewers, counters).
 */
export class WorkerRpc {
  private seq = 0;
  private readonly pending = new Map<number, (ok: boolean) => void>();
  /** Blocks the primary decided; this worker counts nothing itself (failures: 0). */
  private readonly blocks = new AddressGuard({ failures: 0, windowMs: 60_000, blockMs: 0 });
  /**
   * Brute-force protection across the instance: wrong credentials are counted by the
   * primary, which tells every worker of a block; this worker answers the blocked address
   * 429 from then on. Blocks live as long as this process, across reloads.
   */
  readonly authGuard: AuthGuard = {
    blockedMs: (address) => this.blocks.blockedMs(address),
    fail: (address) => { this.send({ t: 'authfail', address: address ?? '' }); },
  };

  constructor(
    private readonly send: (m: WorkerMessage) => void,
    private readonly counters: () => WorkerStreamCounters[],
    private readonly onShutdown: () => void,
    private readonly onReopen: () => void,
  ) {}

  acquire(): Promise<boolean> { return this.request((id) => ({ t: 'acquire', id })); }
  release(): void { this.send({ t: 'release' }); }
  demand(stream: number): Promise<boolean> { return this.request((id) => ({ t: 'demand', id, stream })); }
  viewer(stream: number, delta: 1 | -1): void { this.send({ t: 'viewer', stream, delta }); }
  report(): void { this.send({ t: 'counters', streams: this.counters() }); }

  onMessage(m: PrimaryMessage): void {
    switch (m.t) {
      case 'acquired':
      case 'demanded': {
        const done = this.pending.get(m.id);
        this.pending.delete(m.id);
        done?.(m.ok);
        break;
      }
      case 'collect': this.send({ t: 'counters', id: m.id, streams: this.counters() }); break;
      case 'ping': this.send({ t: 'pong', seq: m.seq }); break;
      case 'shutdown': this.onShutdown(); break;
      case 'reopen': this.onReopen(); break;
      case 'authblock': this.blocks.block(m.key, m.ms); break;
    }
  }

  /** Fail every outstanding request (the primary is gone). */
  close(): void {
    for (const done of this.pending.values()) done(false);
    this.pending.clear();
  }

  private request(make: (id: number) => WorkerMessage): Promise<boolean> {
    const id = ++this.seq;
    return new Promise<boolean>((resolve) => {
      const t = setTimeout(() => { this.pending.delete(id); resolve(false); }, RPC_TIMEOUT_MS);
      this.pending.set(id, (ok) => { clearTimeout(t); resolve(ok); });
      try { this.send(make(id)); } catch { this.pending.delete(id); clearTimeout(t); resolve(false); }
    });
  }
}
