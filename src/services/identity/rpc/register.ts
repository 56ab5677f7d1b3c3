/** Register: the account, its UserRegistered and its first session commit together. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type IdentityService, RegisterResponseSchema } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import { hashPassword } from "../../../platform/security/password.ts";
import type { Identity } from "../deps.ts";
import { profilePayload, userEvent, writeUserEvents } from "../events.ts";
import { insertUser } from "../queries.ts";
import { issueTokens, openSession } from "../sessions.ts";
import { toUser } from "../users.ts";
import { validateEmail, validatePassword, validateUsername } from "../validation.ts";

export function register(id: Identity): ServiceImpl<typeof IdentityService>["register"] {
  return async (req) => {
    const email = validateEmail(req.email);
    const username = validateUsername(req.username);
    const password = validatePassword(req.password);
    const hash = await hashPassword(password);
    try {
      const { user, session } = await id.writer.transaction().execute(async (trx) => {
        const user = await insertUser(trx, { email, username, password_hash: hash });
        await writeUserEvents(id.outbox, trx, userEvent("UserRegistered", profilePayload(user)));
        return { user, session: await openSession(id, trx, user.id) };
      });
      return create(RegisterResponseSchema, {
        tokens: await issueTokens(id, user.id, session.sessionId, session.refresh),
        user: toUser(user, user.id),
      });
    } catch (err) {
      throw takenOr(err);
    }
  };
}

/** A unique violation on the username or the email as the field error it is; anything else as it was. */
function takenOr(err: unknown): unknown {
  const e = err as { code?: string; constraint?: string };
  const constraint = e.code === "23505" ? e.constraint : undefined;
  if (constraint === "users_username_key") {
    return new NovaError("ALREADY_EXISTS", "username: is already taken", { field: "username" });
  }
  if (constraint === "users_email_key") {
    return new NovaError("ALREADY_EXISTS", "email: is already registered", { field: "email" });
  }
  return err;
}
