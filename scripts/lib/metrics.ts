/** The samples of one Prometheus metric on a `/metrics` page, each with its labels. */
export async function metricSamples(
  url: string,
  name: string,
): Promise<{ labels: Record<string, string>; value: number }[]> {
  const text = await (await fetch(url)).text();
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    out.push({ labels, value: Number(line.split(" ").pop()) });
  }
  return out;
}

/** Reads one Prometheus metric from a `/metrics` page: the sum of its samples whose labels match. */
export async function metricValue(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  let total = 0;
  for (const s of await metricSamples(url, name)) {
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}
