import client from "prom-client";

/** One registry per process; every module registers its metrics here. */
export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: "nova_" });

const cache = new Map<string, unknown>();

function once<T>(name: string, make: () => T): T {
  let m = cache.get(name) as T | undefined;
  if (!m) {
    m = make();
    cache.set(name, m);
  }
  return m;
}

export function counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []) {
  return once(name, () => new client.Counter<L>({ name, help, labelNames, registers: [registry] }));
}

export function gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []) {
  return once(name, () => new client.Gauge<L>({ name, help, labelNames, registers: [registry] }));
}

export function histogram<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
) {
  return once(name, () => new client.Histogram<L>({ name, help, labelNames, buckets, registers: [registry] }));
}

export async function renderMetrics(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
