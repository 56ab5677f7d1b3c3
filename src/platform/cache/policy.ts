/**
 * What the cache keeps and for how long: the key format and THE TTL policy
 * (ARCHITECTURE §5). Nothing else in the code base chooses a cache TTL.
 */

export interface TtlPolicy {
  /** In-process TTL (ARCHITECTURE §5: 5–30 s). */
  l1Ms: number;
  /** Redis TTL (ARCHITECTURE §5: 60–300 s). */
  l2Ms: number;
  /** TTL of a cached "not found", in both tiers (short: a create must show up soon). */
  negativeMs: number;
}

/**
 * The TTL policy, per `<service>:<entity>`; an entity that is not listed gets
 * `default`. Every TTL is jittered by ±JITTER when it is set.
 */
export const TTL_POLICY = {
  default: { l1Ms: 5_000, l2Ms: 60_000, negativeMs: 2_000 },
  // Posts change rarely after creation; edits and deletes invalidate them.
  "content:post": { l1Ms: 15_000, l2Ms: 300_000, negativeMs: 5_000 },
  // Post counters: every like, bookmark and comment invalidates them; short-lived all the same.
  "content:counts": { l1Ms: 5_000, l2Ms: 60_000, negativeMs: 2_000 },
  // Whether two users block each other: the graph invalidates the pair on every change of theirs,
  // so a block hides posts on every replica at once; the TTLs only bound a lost invalidation.
  "graph:blocked": { l1Ms: 5_000, l2Ms: 60_000, negativeMs: 2_000 },
  // READY media and its variants: unchanging but for its attachment; attach and delete invalidate it.
  "media:ready": { l1Ms: 30_000, l2Ms: 300_000, negativeMs: 2_000 },
  // Profiles: invalidated on update.
  "identity:user": { l1Ms: 10_000, l2Ms: 300_000, negativeMs: 5_000 },
} as const satisfies Record<string, TtlPolicy>;

/** Each TTL is multiplied by a uniform factor in [1 - JITTER, 1 + JITTER]. */
export const JITTER = 0.1;

export function policyFor(service: string, entity: string): TtlPolicy {
  return (TTL_POLICY as Record<string, TtlPolicy>)[`${service}:${entity}`] ?? TTL_POLICY.default;
}

/** `ms` ± JITTER, at least 1 ms; `random` is a uniform [0, 1) source. */
export function jitter(ms: number, random: () => number = Math.random): number {
  return Math.max(1, Math.round(ms * (1 - JITTER + random() * 2 * JITTER)));
}

const NAME = /^[a-z][a-z0-9_-]*$/;

/**
 * `nova:<service>:<entity>:<id>:v<version>`. Service and entity names cannot
 * contain `:`, so for one entity and version the key is one-to-one with the
 * id (ids may contain anything except being empty).
 */
export function keyFormat(service: string, entity: string, version: number): (id: string) => string {
  if (!NAME.test(service)) throw new Error(`cache: bad service name ${JSON.stringify(service)}`);
  if (!NAME.test(entity)) throw new Error(`cache: bad entity name ${JSON.stringify(entity)}`);
  if (!Number.isInteger(version) || version < 1) throw new Error(`cache: bad schema version ${version}`);
  const prefix = `nova:${service}:${entity}:`;
  const suffix = `:v${version}`;
  return (id) => {
    if (id === "") throw new Error(`cache: empty id for ${service}:${entity}`);
    return prefix + id + suffix;
  };
}
