/**
 * RefreshToken: rotates the refresh token of a session. Presenting a token
 * that was rotated already means the family leaked: the session is revoked.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type IdentityService, RefreshTokenResponseSchema } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { invalid, NovaError } from "../../../platform/errors.ts";
import { newOpaqueToken, sha256 } from "../../../platform/security/secrets.ts";
import type { Identity } from "../deps.ts";
import {
  type IdentityDb,
  insertRefreshToken,
  markRefreshTokenUsed,
  refreshTokenForUpdate,
  revokeSession,
  type SessionClient,
  touchSession,
} from "../queries.ts";
import { clientOf, issueTokens } from "../sessions.ts";

type Rotation = { error: "unknown" | "reused" | "expired" } | { userId: string; sessionId: string; refresh: string };

export function refreshToken(id: Identity): ServiceImpl<typeof IdentityService>["refreshToken"] {
  return async (req) => {
    if (req.refreshToken === "" || req.refreshToken.length > 512) throw invalid("token", "is required");
    const hash = sha256(req.refreshToken);
    const client = clientOf(req.client);
    const outcome = await id.writer.transaction().execute((trx) => rotate(id, trx, hash, client));
    if ("error" in outcome) throw new NovaError("TOKEN_INVALID", undefined, { field: "token" });
    return create(RefreshTokenResponseSchema, {
      tokens: await issueTokens(id, outcome.userId, outcome.sessionId, outcome.refresh),
    });
  };
}

/** Uses up the token with hash `hash` and gives its session the next one, or says why not. */
async function rotate(id: Identity, trx: IdentityDb, hash: Buffer, client: SessionClient): Promise<Rotation> {
  const row = await refreshTokenForUpdate(trx, hash);
  if (!row) return { error: "unknown" };
  if (row.used_at !== null) {
    // Reuse of a rotated token: the family is compromised; revoke it.
    await revokeSession(trx, row.session_id, "refresh token reuse");
    return { error: "reused" };
  }
  const now = Date.now();
  if (row.revoked_at !== null || row.expires_at.getTime() <= now || row.session_expires_at.getTime() <= now) {
    return { error: "expired" };
  }
  await markRefreshTokenUsed(trx, hash);
  const refresh = newOpaqueToken();
  await insertRefreshToken(trx, sha256(refresh), row.session_id, new Date(now + id.opt.refreshTtlMs));
  await touchSession(trx, row.session_id, client);
  return { userId: row.user_id, sessionId: row.session_id, refresh };
}
