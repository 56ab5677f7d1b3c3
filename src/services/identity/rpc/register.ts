/**
 * Register: the account, its UserRegistered and its first session commit together.
 * With email verification required (IDENTITY_REQUIRE_VERIFIED_EMAIL) there is no session:
 * a new address gets the account and a verification mail, a registered one a mail to its
 * owner ("someone tried to sign up with your address"), and both the same answer after the
 * same work (a password hash and one transaction writing one token-free or sealed event),
 * so neither the answer nor its timing tells whether the address has an account.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type IdentityService, RegisterResponseSchema } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import { hashPassword } from "../../../platform/security/password.ts";
import type { Identity } from "../deps.ts";
import { accountEvent, profilePayload, userEvent, writeAccountEvents, writeUserEvents } from "../events.ts";
import { issueMailToken } from "../mail-tokens.ts";
import { insertUser, userByEmail } from "../queries.ts";
import { issueTokens, openSession } from "../sessions.ts";
import { claimUsername, usernameTakenError } from "../usernames.ts";
import { toUser } from "../users.ts";
import { validateEmail, validatePassword, validateUsername } from "../validation.ts";

export function register(id: Identity): ServiceImpl<typeof IdentityService>["register"] {
  return async (req) => {
    const email = validateEmail(req.email);
    const username = validateUsername(req.username);
    const password = validatePassword(req.password);
    const hash = await hashPassword(password);
    try {
      if (id.opt.requireVerifiedEmail) {
        await registerUnverified(id, { email, username, password_hash: hash });
        return create(RegisterResponseSchema, { verificationRequired: true });
      }
      const { user, session } = await id.writer.transaction().execute(async (trx) => {
        await claimUsername(trx, username, undefined, new Date(id.now()));
        const user = await insertUser(trx, { email, username, password_hash: hash });
        await writeUserEvents(id.outbox, trx, userEvent("UserRegistered", profilePayload(user)));
        return { user, session: await openSession(id, trx, user.id, req.client) };
      });
      return create(RegisterResponseSchema, {
        tokens: await issueTokens(id, user.id, session.sessionId, session.refresh),
        user: toUser(user, user.id),
      });
    } catch (err) {
      // Verification required: a race on one new address (twice at once) is answered like any registered one.
      const e = err as { code?: string; constraint?: string };
      if (id.opt.requireVerifiedEmail && e.code === "23505" && e.constraint === "users_email_key") {
        return create(RegisterResponseSchema, { verificationRequired: true });
      }
      throw takenOr(err);
    }
  };
}

/** The verification-first sign-up: an account and its verification mail, or a mail to the address's owner. */
async function registerUnverified(
  id: Identity,
  fields: { email: string; username: string; password_hash: string },
): Promise<void> {
  await id.writer.transaction().execute(async (trx) => {
    // Usernames are public: a taken (or reserved) one is the same answer whoever owns the address.
    await claimUsername(trx, fields.username, undefined, new Date(id.now()));
    const existing = await userByEmail(trx, fields.email);
    if (existing) {
      await writeAccountEvents(id.outbox, trx, accountEvent("SignUpAttemptWithExistingEmail", { userId: existing.id }));
      return;
    }
    const user = await insertUser(trx, fields);
    await writeUserEvents(id.outbox, trx, userEvent("UserRegistered", profilePayload(user)));
    await writeAccountEvents(id.outbox, trx, await issueMailToken(id, trx, user, "verify_email"));
  });
}

/** A unique violation on the username or the email as the field error it is; anything else as it was. */
function takenOr(err: unknown): unknown {
  const e = err as { code?: string; constraint?: string };
  const constraint = e.code === "23505" ? e.constraint : undefined;
  if (constraint === "users_username_key") return usernameTakenError();
  if (constraint === "users_email_key") {
    return new NovaError("ALREADY_EXISTS", "email: is already registered", { field: "email" });
  }
  return err;
}
