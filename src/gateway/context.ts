/**
 * What every resolver is handed: the gateway's dependencies, the viewer, the
 * request's call scope and DataLoaders (server.ts builds one per request,
 * realtime/subscriptions.ts one per subscription).
 */
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { NovaError } from "../platform/errors.ts";
import type { Bus } from "../platform/pubsub/bus.ts";
import type { UserClaims } from "../platform/rpc/context.ts";
import type { Verifier } from "../platform/security/jwt.ts";
import type { FsBlobStore } from "../platform/storage/fs.ts";
import type { BackendClients } from "./backends.ts";
import { toGraphQLError } from "./errors.ts";
import type { Loaders } from "./loaders.ts";
import type { MailLimits } from "./mail-limits.ts";
import type { SecurityOptions } from "./security.ts";
import type { WebOptions } from "./web.ts";

/** The backends' clients (backends.ts, the one table of them) and the rest of what the gateway needs. */
export interface GatewayDeps extends BackendClients {
  log: Logger;
  /** DataLoader batching (on unless GATEWAY_DATALOADER=false, the benchmark's N+1 baseline). */
  batching?: boolean;
  production: boolean;
  requestTimeoutMs: number;
  verify: Verifier;
  /** How long a "session is active" answer may be reused. */
  sessionCacheMs?: number;
  /** The HTTP protections' limits (security.ts); the config's defaults when left out. */
  security?: SecurityOptions;
  /** Rate limits and Idempotency-Keys shared by every replica; in-process without it. */
  redis?: Redis;
  /** Where subscriptions hear pushes (no subscriptions without it). */
  bus?: Bus;
  /**
   * The media store when it cannot take uploads or serve files itself (the fs store): the gateway
   * then takes uploads on PUT /media/upload/:id and serves files on GET /media/... (media/routes.ts).
   */
  mediaStore?: FsBlobStore;
  /** Serve the built web client at `/` (web.ts); undefined: not served. */
  web?: WebOptions;
  /** The media size limit of those uploads (MEDIA_MAX_BYTES). */
  mediaMaxBytes?: number;
}

export interface GatewayContext {
  deps: GatewayDeps;
  user: UserClaims | undefined;
  /** Runs a backend call inside this request's deadline, claims and trace. */
  call<T>(fn: () => Promise<T>): Promise<T>;
  /** This request's DataLoaders over the batch RPCs. */
  loaders: Loaders;
  /** Drops the cached session state of a user (after logout). */
  forgetSessions(userId: string, sessionId?: string): void;
  /** The client's IP (behind trusted proxies: from X-Forwarded-For). */
  ip?: string;
  /** The client's User-Agent header (a session records it). */
  userAgent?: string;
  /** The budgets of the mutations that send mail. */
  mailLimits?: MailLimits;
}

export function requireViewer(ctx: GatewayContext): UserClaims {
  if (!ctx.user) throw toGraphQLError(new NovaError("UNAUTHENTICATED"));
  return ctx.user;
}
