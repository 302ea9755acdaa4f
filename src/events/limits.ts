// Soft-limit hysteresis (the original's event queue): limit_hit fires once when the
// connection count reaches `full` from below, limit_miss once when it drops below
// again. Hits and misses strictly alternate, so a count hovering at the limit cannot
// flood the notification receivers with repeats.

export class LimitWatcher {
  private hit: boolean;

  /**
   * `full` = 0 disables the watcher (no soft limit configured). `initiallyHit`: the state
   * a reloaded configuration takes over, so a hit is not announced twice.
   */
  constructor(
    private readonly full: number,
    private readonly onHit: () => void,
    private readonly onMiss: () => void,
    initiallyHit = false,
  ) {
    this.hit = full > 0 && initiallyHit;
  }

  /** True while the count is at or above the limit (health API "full"). */
  get isHit(): boolean {
    return this.hit;
  }

  /** Report the current total number of client connections. */
  update(connections: number): void {
    if (this.full <= 0) return;
    if (!this.hit && connections >= this.full) {
      this.hit = true; // before the callback, so a re-entrant update sees the new state
      this.onHit();
    } else if (this.hit && connections < this.full) {
      this.hit = false;
      this.onMiss();
    }
  }
}
