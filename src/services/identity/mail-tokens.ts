/**
 * One-time tokens sent by mail (verification 24 h, password reset 30 min): random, stored only
 * as SHA-256 in identity.email_tokens; the raw token leaves in the event the mail is made from,
 * sealed with identity's key (events.ts `sealContext`). Using one voids the user's other
 * unused tokens of the same purpose.
 */
import { invalid } from "../../platform/errors.ts";
import { newOpaqueToken, sha256 } from "../../platform/security/secrets.ts";
import { wellFormed } from "../../platform/validate.ts";
import type { Identity } from "./deps.ts";
import { type AccountEvent, accountEvent, sealContext } from "./events.ts";
import {
  countEmailTokensSince,
  type EmailTokenPurpose,
  emailTokenForUpdate,
  type IdentityDb,
  insertEmailToken,
  useEmailTokens,
} from "./queries.ts";

const EVENT_OF = {
  verify_email: "VerificationRequested",
  reset_password: "PasswordResetRequested",
  change_email: "EmailChangeRequested",
} as const;

/** False when the user has had `mailBudgetPerHour` tokens of this purpose in the last hour. */
export async function withinMailBudget(
  id: Identity,
  db: IdentityDb,
  userId: string,
  purpose: EmailTokenPurpose,
): Promise<boolean> {
  const n = await countEmailTokensSince(db, userId, purpose, new Date(Date.now() - 3_600_000));
  return n < id.opt.mailBudgetPerHour;
}

/**
 * A new token for the user's address (or, for a change of address, for the new one: `email`),
 * stored hashed; the event that mails it (the token sealed).
 */
export async function issueMailToken(
  id: Identity,
  trx: IdentityDb,
  user: { id: string; email: string },
  purpose: EmailTokenPurpose,
  email = user.email,
): Promise<AccountEvent> {
  const token = newOpaqueToken();
  const ttl = {
    verify_email: id.opt.verifyTokenTtlMs,
    reset_password: id.opt.resetTokenTtlMs,
    change_email: id.opt.emailChangeTokenTtlMs,
  }[purpose];
  await insertEmailToken(trx, {
    token_hash: sha256(token),
    user_id: user.id,
    purpose,
    email,
    expires_at: new Date(Date.now() + ttl),
  });
  const type = EVENT_OF[purpose];
  return accountEvent(type, { userId: user.id, sealedToken: id.sealer.seal(token, sealContext(type, user.id)) });
}

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{20,100}$/;

/**
 * Uses the token inside `trx`: the user it belongs to, or a VALIDATION_FAILED naming `field`
 * for a forged, expired, used or superseded one.
 */
export async function useMailToken(
  trx: IdentityDb,
  raw: string,
  purpose: EmailTokenPurpose,
  field = "token",
): Promise<string> {
  return (await takeMailToken(trx, raw, purpose, field)).userId;
}

/** useMailToken, with the address the token was issued for (a change of address: the new one). */
export async function takeMailToken(
  trx: IdentityDb,
  raw: string,
  purpose: EmailTokenPurpose,
  field = "token",
): Promise<{ userId: string; email: string }> {
  const token = wellFormed(field, raw).trim();
  if (token === "") throw invalid(field, "is required");
  if (!TOKEN_SHAPE.test(token)) throw invalid(field, "is not a valid token");
  const row = await emailTokenForUpdate(trx, sha256(token), purpose);
  if (!row) throw invalid(field, "is not a valid token");
  if (row.used_at !== null) throw invalid(field, "has already been used");
  if (row.expires_at.getTime() <= Date.now()) throw invalid(field, "has expired");
  if (purpose === "verify_email" && row.email.toLowerCase() !== row.current_email.toLowerCase()) {
    throw invalid(field, "was sent to an address the account no longer has");
  }
  await useEmailTokens(trx, row.user_id, purpose);
  return { userId: row.user_id, email: row.email };
}
