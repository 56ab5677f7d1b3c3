/**
 * CompleteTwoFactorLogin: the second step of a sign-in with two-factor on. The challenge Login gave
 * (single use, minutes long) and a TOTP code or a recovery code open the session. A wrong or replayed
 * code counts as a failed login on the account, and Login did not clear the count when the password
 * was right, so codes share the password's budget and lockout.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  CompleteTwoFactorLoginResponseSchema,
  type IdentityService,
} from "../../../gen/nova/identity/v1/identity_pb.ts";
import { invalid } from "../../../platform/errors.ts";
import { sha256 } from "../../../platform/security/secrets.ts";
import { wellFormed } from "../../../platform/validate.ts";
import type { Identity } from "../deps.ts";
import {
  clearFailedLogins,
  countRecoveryCodesLeft,
  type IdentityDb,
  loginChallengeForUpdate,
  twoFactorForUpdate,
  type UserRow,
  useLoginChallenge,
  userById,
} from "../queries.ts";
import { issueTokens, openSession } from "../sessions.ts";
import { type Code, codeRefusal, countFailedCode, lockedAt, parseCode, useCode } from "../totp.ts";
import { toUser } from "../users.ts";

const CHALLENGE_SHAPE = /^[A-Za-z0-9_-]{20,100}$/;

type Outcome =
  | { problem: "challenge" }
  | { problem: "incorrect" | "reused" | "locked"; userId: string }
  | { user: UserRow; session: { sessionId: string; refresh: string; deletionCancelled: boolean }; left: number };

export function completeTwoFactorLogin(id: Identity): ServiceImpl<typeof IdentityService>["completeTwoFactorLogin"] {
  return async (req) => {
    const challenge = wellFormed("challenge", req.challenge).trim();
    if (challenge === "") throw invalid("challenge", "is required");
    if (!CHALLENGE_SHAPE.test(challenge)) throw invalid("challenge", "is not a valid challenge");
    const code = parseCode(req.code);
    const outcome = await id.writer.transaction().execute((trx) => secondStep(id, trx, sha256(challenge), code, req));
    if ("problem" in outcome) {
      if (outcome.problem === "challenge") throw invalid("challenge", "has expired or was used; sign in again");
      if (outcome.problem !== "locked") await countFailedCode(id, id.writer, outcome.userId);
      throw codeRefusal(outcome.problem);
    }
    const { user, session, left } = outcome;
    return create(CompleteTwoFactorLoginResponseSchema, {
      tokens: await issueTokens(id, user.id, session.sessionId, session.refresh),
      // The row was read before the sign-in cancelled a pending deletion.
      user: toUser(session.deletionCancelled ? { ...user, deletion_scheduled_at: null } : user, user.id),
      recoveryCodesLeft: left,
      deletionCancelled: session.deletionCancelled,
    });
  };
}

/** Checks the challenge and the code in `trx`; on success spends both and opens the session. */
async function secondStep(
  id: Identity,
  trx: IdentityDb,
  hash: Buffer,
  code: Code,
  req: Parameters<ReturnType<typeof completeTwoFactorLogin>>[0],
): Promise<Outcome> {
  const now = id.now();
  const c = await loginChallengeForUpdate(trx, hash);
  if (!c || c.used_at !== null || c.expires_at.getTime() <= now) return { problem: "challenge" };
  const user = await userById(trx, c.user_id);
  const row = await twoFactorForUpdate(trx, c.user_id);
  // Two-factor turned off since (or the account gone): sign in again.
  if (!user || !row?.enabled_at) return { problem: "challenge" };
  if (lockedAt(user, now)) return { problem: "locked", userId: user.id };
  const used = await useCode(id, trx, row, code, now);
  if (used !== "ok") return { problem: used, userId: user.id };
  await useLoginChallenge(trx, hash, new Date(now));
  await clearFailedLogins(trx, user.id);
  const session = await openSession(id, trx, user.id, req.client);
  return { user, session, left: await countRecoveryCodesLeft(trx, user.id) };
}
