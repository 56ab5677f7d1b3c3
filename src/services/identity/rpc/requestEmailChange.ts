/**
 * RequestEmailChange: with the password, a link (single use, 24 h) to the new address; nothing
 * changes until it is used. The answer and the work are the same whether or not the new address
 * has an account already (that is found out only by whoever reads its mail, at ConfirmEmailChange),
 * and beyond the hourly mail budget it answers the same and sends nothing. A wrong password counts
 * as a failed login.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type IdentityService, RequestEmailChangeResponseSchema } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { invalid, NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { verifyPassword } from "../../../platform/security/password.ts";
import { wellFormed } from "../../../platform/validate.ts";
import type { Identity } from "../deps.ts";
import { writeAccountEvents } from "../events.ts";
import { issueMailToken, withinMailBudget } from "../mail-tokens.ts";
import { userById } from "../queries.ts";
import { countFailedCode, lockedAt } from "../totp.ts";
import { validateEmail } from "../validation.ts";

export function requestEmailChange(id: Identity): ServiceImpl<typeof IdentityService>["requestEmailChange"] {
  return async (req) => {
    const me = requireUser();
    wellFormed("password", req.password);
    if (req.password === "") throw invalid("password", "is required");
    const email = validateEmail(req.newEmail, "newEmail");
    const user = await userById(id.writer, me.userId);
    if (!user) throw new NovaError("UNAUTHENTICATED");
    const locked = lockedAt(user, id.now());
    const ok = req.password.length <= 1024 && (await verifyPassword(user.password_hash, req.password));
    if (!ok || locked) {
      if (!ok && !locked) await countFailedCode(id, id.writer, user.id);
      throw invalid("password", locked ? "too many failed attempts; try again later" : "is incorrect");
    }
    if (email.toLowerCase() === user.email.toLowerCase()) throw invalid("newEmail", "is already your address");
    await id.writer.transaction().execute(async (trx) => {
      if (!(await withinMailBudget(id, trx, user.id, "change_email"))) return;
      await writeAccountEvents(id.outbox, trx, await issueMailToken(id, trx, user, "change_email", email));
    });
    return create(RequestEmailChangeResponseSchema, {});
  };
}
