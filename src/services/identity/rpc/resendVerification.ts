/** ResendVerification: a new verification mail for the caller, within the hourly budget. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type IdentityService, ResendVerificationResponseSchema } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { invalid, NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { Identity } from "../deps.ts";
import { writeAccountEvents } from "../events.ts";
import { issueMailToken, withinMailBudget } from "../mail-tokens.ts";
import { userById } from "../queries.ts";

export function resendVerification(id: Identity): ServiceImpl<typeof IdentityService>["resendVerification"] {
  return async () => {
    const me = requireUser();
    await id.writer.transaction().execute(async (trx) => {
      const user = await userById(trx, me.userId);
      if (!user) throw new NovaError("UNAUTHENTICATED");
      if (user.email_verified_at !== null) throw invalid("email", "is already verified");
      // The caller knows their own address: over budget is said plainly.
      if (!(await withinMailBudget(id, trx, user.id, "verify_email"))) {
        throw new NovaError("RATE_LIMITED", "email: too many verification mails; try again later", { field: "email" });
      }
      await writeAccountEvents(id.outbox, trx, await issueMailToken(id, trx, user, "verify_email"));
    });
    return create(ResendVerificationResponseSchema, {});
  };
}
