import type { Metric, Registry } from 'prom-client';

/** One label set of a LabeledCounter. */
export interface CounterChild {
  /** Adds `value` (default 1); a counter never goes down. */
  inc(value?: number): void;
}

class Child implements CounterChild {
  value = 0;

  constructor(readonly labels: Readonly<Record<string, string>>) {}

  inc(value = 1): void {
    if (!(value >= 0)) throw new RangeError(`a counter only goes up (got ${value})`);
    this.value += value;
  }
}

/**
 * A counter whose label sets are bound once and kept by the caller. `inc` on a child is one
 * addition; a prom-client child hashes its label object on every call (≈ 0.5 µs, twice per
 * request). It registers on a prom-client Registry and exports the same series as prom-client's
 * Counter, a bound label set showing 0 until it is incremented.
 */
export class LabeledCounter<L extends string> {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  /** Label values joined by NUL → child, in the order they were first bound. */
  readonly #children = new Map<string, Child>();

  constructor(options: { name: string; help: string; labelNames: readonly L[]; registry: Registry }) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames;
    // The Registry renders any object with name, help, type and get(); its typings list only its own
    // classes. That shape is undocumented, so prom-client is pinned exactly (docs/decisions.md#metrics-classes).
    options.registry.registerMetric(this as unknown as Metric);
  }

  /** The child for one label set, in `labelNames` order; bind once and keep it (this allocates). */
  labels(...values: string[]): CounterChild {
    if (values.length !== this.labelNames.length) {
      throw new RangeError(`${this.name} takes ${this.labelNames.length} label values, got ${values.length}`);
    }
    const key = values.join('\0');
    let child = this.#children.get(key);
    if (child === undefined) {
      child = new Child(Object.fromEntries(this.labelNames.map((name, i) => [name, values[i]!])));
      this.#children.set(key, child);
    }
    return child;
  }

  get(): { name: string; help: string; type: 'counter'; aggregator: 'sum'; values: Array<{ labels: Readonly<Record<string, string>>; value: number }> } {
    const values = [...this.#children.values()].map((child) => ({ labels: child.labels, value: child.value }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Zeroes every label set; unlike prom-client's, they stay exported, as their holders keep them. */
  reset(): void {
    for (const child of this.#children.values()) child.value = 0;
  }
}
