/** VerifyEmail: uses a verification token, marks the address verified and signs the account in. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type IdentityService, VerifyEmailResponseSchema } from "../../../gen/nova/identity/v1/identity_pb.ts";
import type { Identity } from "../deps.ts";
import { useMailToken } from "../mail-tokens.ts";
import { markEmailVerified } from "../queries.ts";
import { issueTokens, openSession } from "../sessions.ts";
import { toUser } from "../users.ts";

export function verifyEmail(id: Identity): ServiceImpl<typeof IdentityService>["verifyEmail"] {
  return async (req) => {
    const { user, session } = await id.writer.transaction().execute(async (trx) => {
      const userId = await useMailToken(trx, req.token, "verify_email");
      const user = await markEmailVerified(trx, userId);
      if (!user) throw new Error(`verifyEmail: user ${userId} of a live token is gone`);
      return { user, session: await openSession(id, trx, user.id, req.client) };
    });
    return create(VerifyEmailResponseSchema, {
      tokens: await issueTokens(id, user.id, session.sessionId, session.refresh),
      user: toUser(user, user.id),
    });
  };
}
