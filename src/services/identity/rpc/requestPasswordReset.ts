/**
 * RequestPasswordReset: mails a reset link when the address has an account (within the hourly
 * budget). The answer is the same, and the work alike, whether or not it has one.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type IdentityService, RequestPasswordResetResponseSchema } from "../../../gen/nova/identity/v1/identity_pb.ts";
import type { Identity } from "../deps.ts";
import { writeAccountEvents } from "../events.ts";
import { issueMailToken, withinMailBudget } from "../mail-tokens.ts";
import { userByEmail } from "../queries.ts";
import { validateEmail } from "../validation.ts";

const NOBODY = "00000000-0000-0000-0000-000000000000";

export function requestPasswordReset(id: Identity): ServiceImpl<typeof IdentityService>["requestPasswordReset"] {
  return async (req) => {
    const email = validateEmail(req.email);
    await id.writer.transaction().execute(async (trx) => {
      const user = await userByEmail(trx, email);
      // The budget is read for an unknown address too (of nobody), so both take the same statements but the writes.
      const within = await withinMailBudget(id, trx, user?.id ?? NOBODY, "reset_password");
      if (!user || !within) return;
      await writeAccountEvents(id.outbox, trx, await issueMailToken(id, trx, user, "reset_password"));
    });
    return create(RequestPasswordResetResponseSchema, {});
  };
}
