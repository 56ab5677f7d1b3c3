/**
 * Per-user and per-IP rate limits with separate budgets for queries and
 * mutations (rate-limiter-flexible). With Redis the counters live there
 * (`nova:gateway:rl:*`), so every gateway replica shares them; while Redis is
 * unreachable each replica falls back to its own in-process counters (the
 * insurance limiter) instead of failing requests. Without REDIS_URL
 * (embedded mode: one process) the counters are in-process.
 */
import type { Redis } from "ioredis";
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { counter } from "../platform/observability/metrics.ts";
import type { RateBudgets } from "./security.ts";

/** GraphQL queries and mutations, and the media upload route's PUTs (a per-user budget only). */
export type Kind = "query" | "mutation" | "upload";
type Scope = "user" | "ip";

export interface RateDecision {
  allowed: boolean;
  /** The budget nearest to its end (for the RateLimit-* headers). */
  limit: number;
  remaining: number;
  resetS: number;
  /** Seconds to wait when refused. */
  retryAfterS: number;
  /** Which budget refused: "user:mutation", "ip:query", … */
  refusedBy?: string;
  policy: string;
}

const refused = counter("nova_gateway_rate_limited_total", "Requests refused by a rate limit", ["budget"]);

export class RateLimits {
  private readonly limiters = new Map<string, { limiter: RateLimiterAbstract; points: number }>();

  constructor(
    private readonly budgets: RateBudgets,
    redis?: Redis,
    prefix = "nova:gateway:rl",
  ) {
    const table: [Scope, Kind, number][] = [
      ["user", "query", budgets.userQueries],
      ["user", "mutation", budgets.userMutations],
      ["ip", "query", budgets.ipQueries],
      ["ip", "mutation", budgets.ipMutations],
      ["user", "upload", budgets.userUploads ?? 0],
    ];
    for (const [scope, kind, points] of table) {
      if (points <= 0) continue;
      const opts = { points, duration: budgets.windowS, keyPrefix: `${prefix}:${scope}:${kind}` };
      const limiter = redis
        ? new RateLimiterRedis({ ...opts, storeClient: redis, insuranceLimiter: new RateLimiterMemory(opts) })
        : new RateLimiterMemory(opts);
      this.limiters.set(`${scope}:${kind}`, { limiter, points });
    }
  }

  /** Spends `points` (one per operation) from the user's and the IP's budget of this kind. */
  async consume(kind: Kind, who: { userId?: string; ip: string }, points = 1): Promise<RateDecision> {
    const checks: { name: string; limiter: RateLimiterAbstract; points: number; key: string }[] = [];
    const user = this.limiters.get(`user:${kind}`);
    if (user && who.userId) checks.push({ name: `user:${kind}`, ...user, key: who.userId });
    const ip = this.limiters.get(`ip:${kind}`);
    if (ip) checks.push({ name: `ip:${kind}`, ...ip, key: who.ip });
    const results = await Promise.all(
      checks.map(async (c) => {
        try {
          return { c, res: await c.limiter.consume(c.key, points), ok: true };
        } catch (e) {
          if (e instanceof RateLimiterRes) return { c, res: e, ok: false };
          throw e;
        }
      }),
    );
    const policy = checks.map((c) => `${c.points};w=${this.budgets.windowS}`).join(", ");
    if (results.length === 0) return { allowed: true, limit: 0, remaining: 0, resetS: 0, retryAfterS: 0, policy };
    const denied = results.filter((r) => !r.ok);
    if (denied.length) {
      const worst = denied.reduce((a, b) => (b.res.msBeforeNext > a.res.msBeforeNext ? b : a));
      refused.inc({ budget: worst.c.name });
      const wait = Math.max(1, Math.ceil(worst.res.msBeforeNext / 1000));
      return {
        allowed: false,
        limit: worst.c.points,
        remaining: 0,
        resetS: wait,
        retryAfterS: wait,
        refusedBy: worst.c.name,
        policy,
      };
    }
    const tight = results.reduce((a, b) =>
      b.res.remainingPoints / b.c.points < a.res.remainingPoints / a.c.points ? b : a,
    );
    return {
      allowed: true,
      limit: tight.c.points,
      remaining: Math.max(0, tight.res.remainingPoints),
      resetS: Math.max(0, Math.ceil(tight.res.msBeforeNext / 1000)),
      retryAfterS: 0,
      policy,
    };
  }
}
