/**
 * Budgets of the mutations that send mail (signUp/register, resendVerification,
 * requestPasswordReset): per address (hashed; the signed-in user for a resend) and per IP,
 * per hour, in Redis when the gateway has it (shared by replicas), in-process otherwise. A
 * refusal is RATE_LIMITED naming the field, before any backend call, and says nothing about
 * whether the address has an account. Identity keeps its own per-user budget behind this one.
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { NovaError } from "../platform/errors.ts";
import type { MailRateBudgets } from "./security.ts";

const HOUR_S = 3_600;

export class MailLimits {
  private readonly byAddress: RateLimiterAbstract | undefined;
  private readonly byIp: RateLimiterAbstract | undefined;
  /** Whether sign-ups send mail (email verification required), so spend these budgets. */
  readonly signUp: boolean;

  constructor(budgets: MailRateBudgets, redis?: Redis, prefix = "nova:gateway:mailrl") {
    this.signUp = budgets.signUp;
    const make = (points: number, scope: string) => {
      if (points <= 0) return undefined;
      const opts = { points, duration: HOUR_S, keyPrefix: `${prefix}:${scope}` };
      return redis
        ? new RateLimiterRedis({ ...opts, storeClient: redis, insuranceLimiter: new RateLimiterMemory(opts) })
        : new RateLimiterMemory(opts);
    };
    this.byAddress = make(budgets.perAddress, "address");
    this.byIp = make(budgets.perIp, "ip");
  }

  /** Spends one mail of the address's (or user's) and the IP's budget; RATE_LIMITED naming `field` when spent. */
  async spend(field: string, who: { address?: string; userId?: string; ip: string }): Promise<void> {
    const key = who.userId
      ? `user:${who.userId}`
      : `addr:${createHash("sha256")
          .update((who.address ?? "").trim().toLowerCase())
          .digest("base64url")}`;
    const checks: [RateLimiterAbstract | undefined, string][] = [
      [this.byIp, who.ip],
      [this.byAddress, key],
    ];
    for (const [limiter, k] of checks) {
      if (!limiter) continue;
      try {
        await limiter.consume(k, 1);
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err;
        const after = Math.ceil(err.msBeforeNext / 1000);
        throw new NovaError("RATE_LIMITED", `${field}: too many mails asked for; try again in ${after} s`, { field });
      }
    }
  }
}
