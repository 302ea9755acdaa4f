import type { Config } from '../config/schema.js';
import type { ReloadPlan } from '../reload.js';
import type { Frame } from './protocol.js';

/** Frames name a slot in 16 bits. */
const MAX_SLOT = 0xffff;

/** The serve path of each stream resource, in order. */
function streamNames(cfg: Config): string[] {
  return cfg.resources.filter((r) => r.type === 'stream').map((r) => r.serve);
}

/**
 * Multi-process mode, primary side: which stream each slot carries. A slot is a stream's
 * number on the data pipe and in the workers' reports; it never changes while the stream
 * runs on. A reload gives restarted and added streams new slots and retires the slots of
 * the others (never reused), so no frame of an old stream can reach a new one.
 */
export class SlotTable {
  /** The stream (serve path) in each slot; undefined: retired by a reload. */
  private names: (string | undefined)[];
  /** The slot of each stream resource of the running configuration, in order. */
  private config: number[];

  constructor(cfg: Config) {
    this.names = streamNames(cfg);
    this.config = this.names.map((_, i) => i);
  }

  /** Slots ever assigned (running and retired). */
  get size(): number { return this.names.length; }

  /** The slot of each stream resource of the running configuration, in order. */
  get configSlots(): readonly number[] { return this.config; }

  /** A slot as a worker may send it: one of ours (running or retired). */
  has(slot: unknown): slot is number {
    return Number.isInteger(slot) && (slot as number) >= 0 && (slot as number) < this.names.length;
  }

  /** The stream running in `slot` (undefined: retired, or no slot of ours). */
  nameAt(slot: unknown): string | undefined {
    return this.has(slot) ? this.names[slot] : undefined;
  }

  /** The running slots with their streams. */
  *running(): IterableIterator<[slot: number, name: string]> {
    for (let slot = 0; slot < this.names.length; slot++) {
      const name = this.names[slot];
      if (name !== undefined) yield [slot, name];
    }
  }

  /**
   * The slots of `next` (reloaded by `plan`): kept streams keep theirs, restarted and added
   * ones get new ones. Nothing changes here until `commit`; `size` is the table's size then.
   */
  reload(plan: ReloadPlan, next: Config): { slots: readonly number[]; size: number; commit: () => void } {
    const keep = new Set(plan.keep);
    const names = [...this.names];
    const current = new Map<string, number>();
    for (const [slot, name] of this.running()) current.set(name, slot);
    const config = streamNames(next).map((name) => {
      const kept = keep.has(name) ? current.get(name) : undefined;
      if (kept !== undefined) return kept;
      names.push(name);
      return names.length - 1;
    });
    if (names.length > MAX_SLOT) throw new Error('too many streams started since this process began (65535 slots): restart to apply the configuration');
    for (const [name, slot] of current) if (!keep.has(name)) names[slot] = undefined;
    return {
      slots: config,
      size: names.length,
      commit: () => { this.names = names; this.config = config; },
    };
  }
}

/** What a worker-side slot holds: a stream the frames of its slot drive. */
export interface SlotStream {
  onFrame(type: Frame, arg: number, payload: Buffer): void;
}

/**
 * Multi-process mode, worker side: the data pipe's frames go straight to the stream of
 * their slot in the configuration that runs (frames for a slot it does not have, yet or
 * any more, are dropped).
 */
export class SlotRouter<S extends SlotStream = SlotStream> {
  private streams: ReadonlyMap<number, S> = new Map();

  /** The streams of the configuration that runs now, by slot. */
  set(streams: ReadonlyMap<number, S>): void { this.streams = streams; }

  /** A frame of the data pipe (FrameReader's callback). */
  onFrame(type: Frame, arg: number, slot: number, payload: Buffer): void {
    this.streams.get(slot)?.onFrame(type, arg, payload);
  }
}
