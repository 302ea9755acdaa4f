import type { WorkerStreamCounters } from './protocol.js';

/**
 * The workers' per-stream counters, summed. A worker that exits keeps its last figures
 * (folded into `retired`) so totals never go backwards.
 */
export class WorkerCounters {
  private readonly live = new Map<number, WorkerStreamCounters[]>();
  private readonly retired: { sent: number; dropped: number; clientMs: number; responses: Map<number, number> }[];

  constructor(streams: number) {
    this.retired = [];
    this.ensure(streams);
  }

  /** Room for `slots` streams (a reload adds slots). */
  ensure(slots: number): void {
    while (this.retired.length < slots) this.retired.push({ sent: 0, dropped: 0, clientMs: 0, responses: new Map() });
  }

  update(worker: number, counters: WorkerStreamCounters[]): void { this.live.set(worker, counters); }

  retire(worker: number): void {
    const c = this.live.get(worker);
    this.live.delete(worker);
    if (!c) return;
    c.forEach((s, i) => {
      const r = this.retired[i];
      if (!r) return;
      r.sent += s.packetsSent;
      r.dropped += s.packetsDropped;
      r.clientMs += s.clientMs;
      for (const [code, n] of s.responses) r.responses.set(code, (r.responses.get(code) ?? 0) + n);
    });
  }

  private sum(i: number, f: (s: WorkerStreamCounters) => number): number {
    let n = 0;
    for (const c of this.live.values()) n += c[i] ? f(c[i]) : 0;
    return n;
  }

  packetsSent(i: number): number { return this.retired[i]!.sent + this.sum(i, (s) => s.packetsSent); }
  packetsDropped(i: number): number { return this.retired[i]!.dropped + this.sum(i, (s) => s.packetsDropped); }
  clients(i: number): number { return this.sum(i, (s) => s.clients); }
  clientMs(i: number): number { return this.retired[i]!.clientMs + this.sum(i, (s) => s.clientMs); }

  responses(i: number): Map<number, number> {
    const out = new Map(this.retired[i]!.responses);
    for (const c of this.live.values()) for (const [code, n] of c[i]?.responses ?? []) out.set(code, (out.get(code) ?? 0) + n);
    return out;
  }
}
