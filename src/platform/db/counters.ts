/**
 * Changes to counters that never go below zero, merged per row so one statement applies a batch of
 * them. Applied one at a time a count c becomes max(0, c + d); after a run of changes it is
 * max(c + sum, floor), where sum is the run's total and floor the largest total of a tail of the run
 * (0 for the empty tail). So `SET n = greatest(floor, n + sum)` gives exactly what one statement per
 * change would, even when the stored count was too low.
 */
export class ClampedCounters<C extends string> {
  private readonly rows = new Map<string, Record<C, { sum: number; floor: number }>>();

  constructor(private readonly counters: readonly C[]) {}

  add(id: string, counter: C, d: number): void {
    let row = this.rows.get(id);
    if (!row) {
      row = Object.fromEntries(this.counters.map((c) => [c, { sum: 0, floor: 0 }])) as Record<
        C,
        { sum: number; floor: number }
      >;
      this.rows.set(id, row);
    }
    const x = row[counter];
    x.sum += d;
    x.floor = Math.max(0, x.floor + d);
  }

  get size(): number {
    return this.rows.size;
  }

  /** The row ids in sorted order (rows locked in one order never deadlock) and, per counter, its sums and floors. */
  columns(): { ids: string[]; sum: Record<C, number[]>; floor: Record<C, number[]> } {
    const ids = [...this.rows.keys()].sort();
    const pick = (k: "sum" | "floor") =>
      Object.fromEntries(
        this.counters.map((c) => [
          c,
          ids.map((id) => (this.rows.get(id) as Record<C, { sum: number; floor: number }>)[c][k]),
        ]),
      ) as Record<C, number[]>;
    return { ids, sum: pick("sum"), floor: pick("floor") };
  }
}
