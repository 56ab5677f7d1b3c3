/**
 * The call context of the request being served: its deadline, the calling
 * module and the end user's claims. It lives in AsyncLocalStorage, is filled
 * in by the server interceptor (or by the gateway for an incoming HTTP
 * request) and is copied into the metadata of every downstream call, so a
 * deadline set at the edge bounds the whole call tree.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { NovaError } from "../errors.ts";

export interface UserClaims {
  readonly userId: string;
  readonly sessionId: string;
  /** From the access token's `roles` claim: may moderate (e.g. delete others' content). */
  readonly admin?: boolean;
  /** From the `roles` claim: may work the moderation queue and act on reports (an admin may too). */
  readonly moderator?: boolean;
  /** From the access token's `email_verified: false`: may read, may not post, comment or message yet. */
  readonly unverified?: boolean;
}

export interface CallContext {
  /** Epoch ms after which the work is useless. */
  deadline?: number;
  /** The module that made this call (from its mTLS identity when remote). */
  caller?: string;
  user?: UserClaims;
}

const als = new AsyncLocalStorage<CallContext>();

export function currentCall(): CallContext | undefined {
  return als.getStore();
}

export function runWithCall<T>(ctx: CallContext, fn: () => T): T {
  return als.run(ctx, fn);
}

/** The authenticated end user of this call, or an UNAUTHENTICATED error. */
export function requireUser(): UserClaims {
  const user = als.getStore()?.user;
  if (!user) throw new NovaError("UNAUTHENTICATED");
  return user;
}

/**
 * The authenticated end user of a write that needs a verified address (posts, comments, messages):
 * decided from the caller's claims, with no call to identity.
 */
export function requireVerifiedUser(): UserClaims {
  const user = requireUser();
  if (user.unverified) throw new NovaError("EMAIL_NOT_VERIFIED");
  return user;
}

export function optionalUser(): UserClaims | undefined {
  return als.getStore()?.user;
}

/** The roles of a token's `roles` claim (or the roles header) as claims; unknown roles are ignored. */
export function roleClaims(roles: readonly string[]): { admin?: true; moderator?: true } {
  const out: { admin?: true; moderator?: true } = {};
  if (roles.includes("admin")) out.admin = true;
  if (roles.includes("moderator")) out.moderator = true;
  return out;
}

/** The roles header's value for a user's claims ("" for none). */
export function rolesHeader(user: UserClaims): string {
  return [user.admin ? "admin" : "", user.moderator ? "moderator" : ""].filter(Boolean).join(",");
}

export const headers = {
  caller: "x-nova-caller",
  userId: "x-nova-user-id",
  sessionId: "x-nova-session-id",
  userRoles: "x-nova-user-roles",
  userUnverified: "x-nova-user-unverified",
} as const;

/** Milliseconds left before the current deadline (undefined: no deadline). */
export function remainingMs(now = Date.now()): number | undefined {
  const d = als.getStore()?.deadline;
  return d === undefined ? undefined : d - now;
}

/** Parses a gRPC `grpc-timeout` ("100m", "5S") or Connect `connect-timeout-ms` header into ms. */
export function parseTimeoutHeader(h: Headers): number | undefined {
  const connectMs = h.get("connect-timeout-ms");
  if (connectMs && /^\d{1,10}$/.test(connectMs)) return Number(connectMs);
  const grpc = h.get("grpc-timeout");
  const m = grpc ? /^(\d{1,8})([HMSmun])$/.exec(grpc) : null;
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2];
  const factor: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
  return n * (factor[unit as string] ?? 1);
}
