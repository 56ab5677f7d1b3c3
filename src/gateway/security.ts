/**
 * The gateway's security limits in one object (README "Security limits"),
 * built from the validated config. Every limit has a config variable; the
 * defaults are the ones the README lists.
 */
import { getHeapStatistics } from "node:v8";
import type { Config } from "../runtime/config.ts";

export interface QueryLimits {
  maxDepth: number;
  /** Each field costs 1; a field with a `first`/`limit` argument multiplies its selection by it. */
  maxCost: number;
  maxAliases: number;
  maxTokens: number;
  maxDirectives: number;
  /** Operations in one array-batched request; 0 = batching off. The batch shares maxCost. */
  maxBatch: number;
  /** `__schema` / `__type` allowed. */
  introspection: boolean;
}

export interface RateBudgets {
  windowS: number;
  /** Points per window; 0 = that budget is not enforced. One operation = one point. */
  userQueries: number;
  userMutations: number;
  ipQueries: number;
  ipMutations: number;
  /** PUTs to the media upload route per user (embedded mode's fs store); 0 or absent = off. */
  userUploads?: number;
}

/** Mutations that send mail (sign-up, verification, password reset): per address and per IP, per hour; 0 = off. */
export interface MailRateBudgets {
  perAddress: number;
  perIp: number;
  /** Sign-ups spend them too (only when they send mail: email verification required). */
  signUp: boolean;
}

/** Subscriptions over WebSocket (realtime/subscriptions.ts). */
export interface RealtimeLimits {
  maxSubscriptions: number;
  maxQueue: number;
  maxBufferedBytes: number;
  /** How many followed accounts a feed subscription listens to. */
  feedMaxFollowing: number;
}

export interface SecurityOptions {
  bodyLimit: number;
  limits: QueryLimits;
  /** Production: only operations from the allow-list (src/gateway/operations). Otherwise APQ + ad-hoc. */
  persistedOnly: boolean;
  rate: RateBudgets;
  /** The mail-sending mutations' budgets (mail-limits.ts); the config's defaults when left out. */
  mailRate?: MailRateBudgets;
  idempotencyTtlMs: number;
  /** Backend RPCs one request may make (all operations of a batch together). */
  callBudget: number;
  /** In-flight RPCs per backend per gateway process, and how many may wait beyond that. */
  backendConcurrency: number;
  backendQueue: number;
  /** Load shedding (@fastify/under-pressure); 0 = that check is off. */
  maxEventLoopDelayMs: number;
  maxHeapUsedBytes: number;
  /** Origins allowed by CORS; empty = no cross-origin access. */
  corsOrigins: string[];
  /** Subscriptions: how many per connection, how far a client may fall behind, how many authors a feed hears. */
  realtime: RealtimeLimits;
  /** Fastify's trustProxy: which X-Forwarded-For hops give the client's IP. */
  trustProxy: boolean | number | string;
}

export const DEFAULT_PAGE_SIZE = 20;

export function securityOptions(c: Config): SecurityOptions {
  return {
    bodyLimit: c.GATEWAY_BODY_LIMIT_BYTES,
    limits: {
      maxDepth: c.GATEWAY_MAX_DEPTH,
      maxCost: c.GATEWAY_MAX_COST,
      maxAliases: c.GATEWAY_MAX_ALIASES,
      maxTokens: c.GATEWAY_MAX_TOKENS,
      maxDirectives: c.GATEWAY_MAX_DIRECTIVES,
      maxBatch: c.GATEWAY_MAX_BATCH,
      introspection: c.GATEWAY_INTROSPECTION ? c.GATEWAY_INTROSPECTION === "true" : !c.production,
    },
    persistedOnly: c.GATEWAY_PERSISTED_ONLY ? c.GATEWAY_PERSISTED_ONLY === "true" : c.production,
    rate: {
      windowS: c.GATEWAY_RATE_WINDOW_S,
      userQueries: c.GATEWAY_RATE_USER_QUERIES,
      userMutations: c.GATEWAY_RATE_USER_MUTATIONS,
      ipQueries: c.GATEWAY_RATE_IP_QUERIES,
      ipMutations: c.GATEWAY_RATE_IP_MUTATIONS,
      userUploads: c.GATEWAY_RATE_USER_UPLOADS,
    },
    mailRate: {
      perAddress: c.GATEWAY_RATE_MAIL_PER_ADDRESS,
      perIp: c.GATEWAY_RATE_MAIL_PER_IP,
      signUp: c.requireVerifiedEmail,
    },
    idempotencyTtlMs: c.GATEWAY_IDEMPOTENCY_TTL_HOURS * 3_600_000,
    callBudget: c.GATEWAY_CALL_BUDGET,
    backendConcurrency: c.GATEWAY_BACKEND_CONCURRENCY,
    backendQueue: c.GATEWAY_BACKEND_QUEUE,
    maxEventLoopDelayMs: c.GATEWAY_MAX_EVENT_LOOP_DELAY_MS,
    maxHeapUsedBytes: c.GATEWAY_MAX_HEAP_USED_BYTES ?? Math.floor(getHeapStatistics().heap_size_limit * 0.9),
    corsOrigins: c.GATEWAY_CORS_ORIGINS ? c.GATEWAY_CORS_ORIGINS.split(",") : [],
    realtime: {
      maxSubscriptions: c.REALTIME_MAX_SUBSCRIPTIONS,
      maxQueue: c.REALTIME_MAX_QUEUE,
      maxBufferedBytes: c.REALTIME_MAX_BUFFER_KB * 1024,
      feedMaxFollowing: c.REALTIME_FEED_MAX_FOLLOWING,
    },
    trustProxy: trustProxy(c.GATEWAY_TRUST_PROXY),
  };
}

function trustProxy(v: string): boolean | number | string {
  if (v === "true") return true;
  if (v === "false") return false;
  if (/^\d+$/.test(v)) return Number(v);
  return v;
}

/** The defaults (as the config gives them), for tests and tools that build a gateway directly. */
export function defaultSecurity(production: boolean): SecurityOptions {
  return {
    bodyLimit: 1_048_576,
    limits: {
      maxDepth: 10,
      maxCost: 5_000,
      maxAliases: 15,
      maxTokens: 2_000,
      maxDirectives: 10,
      maxBatch: 0,
      introspection: !production,
    },
    persistedOnly: production,
    rate: { windowS: 60, userQueries: 1_200, userMutations: 300, ipQueries: 3_000, ipMutations: 600 },
    idempotencyTtlMs: 24 * 3_600_000,
    callBudget: 12,
    backendConcurrency: 64,
    backendQueue: 256,
    maxEventLoopDelayMs: 1_000,
    maxHeapUsedBytes: Math.floor(getHeapStatistics().heap_size_limit * 0.9),
    corsOrigins: [],
    realtime: { maxSubscriptions: 20, maxQueue: 256, maxBufferedBytes: 1_048_576, feedMaxFollowing: 2_000 },
    trustProxy: false,
  };
}
