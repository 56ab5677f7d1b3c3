/** Sessions (a refresh-token family each) and the tokens a session is given. */
import { create } from "@bufbuild/protobuf";
import type { Transaction } from "kysely";
import { type ClientInfo, type Tokens, TokensSchema } from "../../gen/nova/identity/v1/identity_pb.ts";
import { ACCESS_TOKEN } from "../../platform/security/jwt.ts";
import { newOpaqueToken, sha256 } from "../../platform/security/secrets.ts";
import type { Identity } from "./deps.ts";
import { accountEvent, writeAccountEvents } from "./events.ts";
import {
  cancelDeletion,
  claimsOf,
  type IdentityDb,
  type IdentityTables,
  insertRefreshToken,
  insertSession,
  type SessionClient,
} from "./queries.ts";
import { refuseRestricted } from "./restrictions.ts";

const USER_AGENT_MAX = 512;
const IP_MAX = 64;

/**
 * The client as a session stores it. It comes from HTTP headers, not from a form: what does not fit
 * is cut rather than refused, and control characters (NUL would fail the INSERT) are dropped.
 */
export function clientOf(c: ClientInfo | undefined): SessionClient {
  const clean = (v: string, max: number) => [...v.replace(/\p{Cc}/gu, "")].slice(0, max).join("").trim();
  return { ip: clean(c?.ip ?? "", IP_MAX), user_agent: clean(c?.userAgent ?? "", USER_AGENT_MAX) };
}

/**
 * Starts a session (a refresh-token family) from `client` and returns its first refresh token.
 * `trx` must be a transaction: a cancelled deletion's event commits with it.
 */
export async function openSession(
  id: Identity,
  trx: IdentityDb,
  userId: string,
  client: ClientInfo | undefined,
): Promise<{ sessionId: string; refresh: string; deletionCancelled: boolean }> {
  // Every way in (login, a verification link) opens a session here: none for a suspended or banned account.
  await refuseRestricted(trx, userId);
  // Signing in during a deletion's grace period cancels it (the answer says so; the owner is mailed).
  const deletionCancelled = await cancelDeletion(trx, userId);
  if (deletionCancelled) {
    await writeAccountEvents(
      id.outbox,
      trx as Transaction<IdentityTables>,
      accountEvent("AccountDeletionCancelled", { userId }),
    );
  }
  const now = Date.now();
  const sessionId = await insertSession(trx, userId, new Date(now + id.opt.sessionMaxMs), clientOf(client));
  const refresh = newOpaqueToken();
  await insertRefreshToken(trx, sha256(refresh), sessionId, new Date(now + id.opt.refreshTtlMs));
  return { sessionId, refresh, deletionCancelled };
}

/** A new access token for the session, with the refresh token it goes with. */
export async function issueTokens(id: Identity, userId: string, sessionId: string, refresh: string): Promise<Tokens> {
  // The role and the verification are read at every issue, so a change shows in the next access token.
  const c = await claimsOf(id.writer, userId);
  const unverified = id.opt.requireVerifiedEmail && c?.email_verified_at === null;
  return create(TokensSchema, {
    accessToken: await id.signer.sign(userId, sessionId, undefined, c && c.role !== "user" ? [c.role] : [], unverified),
    refreshToken: refresh,
    expiresIn: ACCESS_TOKEN.ttlSeconds,
  });
}
