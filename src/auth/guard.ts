import { isIPv6 } from 'node:net';
import { plainAddress } from './token.js';

// Brute-force protection: an address that sent wrong credentials more than `failures`
// times within `windowMs` is answered 429, without any credential check, for `blockMs`.
// Only wrong credentials count (auth.ts marks them): a request without any, such as a
// browser's first one before its login prompt, does not. A success does not lift a block.

/** What requireAuth (src/http/access.ts) asks and tells: one per process, or one per instance across workers. */
export interface AuthGuard {
  /** How long `address` stays blocked, ms; 0 when it is not. */
  blockedMs(address: string | undefined): number;
  /** `address` sent wrong credentials. */
  fail(address: string | undefined): void;
}

export interface GuardOptions {
  /** Wrong credentials tolerated within the window; one more blocks the address. */
  failures: number;
  windowMs: number;
  blockMs: number;
  nowMs?: () => number;
  /** An address was blocked (once per episode): for the log, or to tell the other workers. */
  onBlock?: (key: string, failures: number, blockMs: number) => void;
}

interface Entry {
  /** Times of the recent failures, oldest first; never more than `failures` + 1. */
  times: number[];
  blockedUntil: number;
}

/**
 * What an address is counted as: IPv4 (an IPv4-mapped IPv6 address included) as itself,
 * IPv6 by its /64, which one client usually holds whole (so it cannot rotate through it).
 */
export function addressKey(address: string | undefined): string {
  const a = plainAddress(address) ?? '';
  if (!isIPv6(a)) return a;
  const [head = '', tail = ''] = a.toLowerCase().split('%')[0]!.split('::');
  const front = head === '' ? [] : head.split(':');
  const back = tail === '' ? [] : tail.split(':');
  const groups = a.includes('::') ? [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back] : front;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** The guard of one process (single process; in multi-process mode, the primary's). */
export class AddressGuard implements AuthGuard {
  private readonly entries = new Map<string, Entry>();
  private readonly nowMs: () => number;
  private lastSweep: number;

  constructor(private readonly o: GuardOptions) {
    this.nowMs = o.nowMs ?? Date.now;
    this.lastSweep = this.nowMs();
  }

  blockedMs(address: string | undefined): number {
    const e = this.entries.get(addressKey(address));
    return e === undefined ? 0 : Math.max(0, e.blockedUntil - this.nowMs());
  }

  /** Count a failure; returns how long the address is now blocked for if this one blocked it, else 0. */
  fail(address: string | undefined): number {
    if (this.o.failures <= 0) return 0;
    const now = this.nowMs();
    this.sweep(now);
    const key = addressKey(address);
    let e = this.entries.get(key);
    if (e === undefined) {
      e = { times: [], blockedUntil: 0 };
      this.entries.set(key, e);
    }
    if (e.blockedUntil > now) return 0;
    e.times.push(now);
    while (e.times.length > 0 && e.times[0]! <= now - this.o.windowMs) e.times.shift();
    if (e.times.length <= this.o.failures) return 0;
    const failures = e.times.length;
    e.times = [];
    e.blockedUntil = now + this.o.blockMs;
    this.o.onBlock?.(key, failures, this.o.blockMs);
    return this.o.blockMs;
  }

  /** Block `key` for `ms` from now (also how a worker learns of a block the primary decided). */
  block(key: string, ms: number): void {
    const now = this.nowMs();
    this.sweep(now);
    let e = this.entries.get(key);
    if (e === undefined) {
      e = { times: [], blockedUntil: 0 };
      this.entries.set(key, e);
    }
    e.blockedUntil = Math.max(e.blockedUntil, now + ms);
  }

  /** The blocks in force: [key, ms left] (a worker started later is told of them). */
  blocks(): [string, number][] {
    const now = this.nowMs();
    const out: [string, number][] = [];
    for (const [key, e] of this.entries) if (e.blockedUntil > now) out.push([key, e.blockedUntil - now]);
    return out;
  }

  /** Forget addresses with nothing recent, at most once per window: memory follows the addresses active now. */
  private sweep(now: number): void {
    if (now - this.lastSweep < this.o.windowMs) return;
    this.lastSweep = now;
    for (const [key, e] of this.entries) {
      const last = e.times.at(-1) ?? 0;
      if (e.blockedUntil <= now && last <= now - this.o.windowMs) this.entries.delete(key);
    }
  }
}
