/**
 * BeginTwoFactorEnrollment: with the current password, a new TOTP secret (sealed, pending) and what
 * an authenticator app scans; nothing changes for sign-in until Confirm checks a first code. A wrong
 * password counts as a failed login (the same lockout).
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  BeginTwoFactorEnrollmentResponseSchema,
  type IdentityService,
} from "../../../gen/nova/identity/v1/identity_pb.ts";
import { invalid, NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { verifyPassword } from "../../../platform/security/password.ts";
import { wellFormed } from "../../../platform/validate.ts";
import type { Identity } from "../deps.ts";
import { twoFactorOf, upsertPendingTwoFactor, userById } from "../queries.ts";
import { countFailedCode, lockedAt, newEnrolment } from "../totp.ts";

export function beginTwoFactorEnrollment(
  id: Identity,
): ServiceImpl<typeof IdentityService>["beginTwoFactorEnrollment"] {
  return async (req) => {
    const me = requireUser();
    wellFormed("password", req.password);
    if (req.password === "") throw invalid("password", "is required");
    const user = await userById(id.writer, me.userId);
    if (!user) throw new NovaError("UNAUTHENTICATED");
    const locked = lockedAt(user, id.now());
    const ok = req.password.length <= 1024 && (await verifyPassword(user.password_hash, req.password));
    if (!ok || locked) {
      if (!ok && !locked) await countFailedCode(id, id.writer, user.id);
      throw invalid("password", locked ? "too many failed attempts; try again later" : "is incorrect");
    }
    if ((await twoFactorOf(id.writer, user.id))?.enabled_at) {
      throw new NovaError("ALREADY_EXISTS", "two-factor sign-in is already on; turn it off first");
    }
    const enrolment = await newEnrolment(id, user);
    await upsertPendingTwoFactor(id.writer, user.id, enrolment.sealedSecret);
    return create(BeginTwoFactorEnrollmentResponseSchema, {
      otpauthUri: enrolment.otpauthUri,
      qrCode: enrolment.qrCode,
      secret: enrolment.secret,
    });
  };
}
