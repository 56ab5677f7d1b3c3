/**
 * `identity.mail`: identity's account events (events.ts, topic nova.identity.account) become
 * mail. A mail is the effect of one event: its id is the event's (the Message-ID, the folder
 * file's name), and the platform's processed_events row commits after the mail is handed over,
 * so a mail is sent at least once and a redelivered event sends nothing more once recorded.
 * The address is read from identity's own table when the mail is made (events carry no email);
 * a one-time token is opened from its seal here and nowhere else. Two mails go elsewhere than the
 * account's address: the confirmation of a new address goes to the address its token was issued
 * for, and the notice of a change to the old address, sealed in its event.
 */
import type { Kysely, Transaction } from "kysely";
import type { Logger } from "pino";
import type { EventHandler } from "../../platform/events/consumer.ts";
import type { Envelope } from "../../platform/events/envelope.ts";
import type { Mailer } from "../../platform/mail/mailer.ts";
import { renderMail } from "../../platform/mail/templates.ts";
import type { Sealer } from "../../platform/security/seal.ts";
import { sha256 } from "../../platform/security/secrets.ts";
import { ACCOUNT_TOPIC, type AccountEventType, accountEvents, sealContext } from "./events.ts";
import { MAILS, type MailedEventType } from "./mails.ts";
import { emailOfToken, type IdentityTables } from "./queries.ts";

export interface MailDeps {
  mailer: Mailer;
  sealer: Sealer;
  /** The web client's origin: links are `<publicUrl>/verify-email?token=…` and `/reset-password?token=…`. */
  publicUrl: string;
  log?: Logger;
}

const PATH: Partial<Record<AccountEventType, string>> = {
  VerificationRequested: "/verify-email",
  PasswordResetRequested: "/reset-password",
  EmailChangeRequested: "/confirm-email",
};

function isMailedEvent(type: string): type is MailedEventType {
  return Object.hasOwn(MAILS, type);
}

/**
 * The template's values for this event and user (the token opened from its seal); undefined when
 * the seal does not open: sealed under another key (rotated, or another deployment's), it never
 * will, so retrying is pointless; the user asks for a new link.
 */
function varsOf(
  deps: MailDeps,
  event: Envelope,
  type: MailedEventType,
  user: { id: string; email: string; username: string; display_name: string },
): Record<string, string> | undefined {
  const payload = accountEvents[type].parse(event.payload) as { sealedToken?: string; how?: string; eraseAt?: string };
  const vars: Record<string, string> = {
    name: user.display_name || `@${user.username}`,
    email: user.email,
    // For a mail to an address the account no longer has: enough to recognise, not the whole address.
    maskedEmail: user.email.replace(/^(.)[^@]*/, "$1***"),
    username: user.username,
    when: `${event.occurred_at.replace("T", " ").slice(0, 16)} UTC`,
    how: payload.how === "reset" ? "reset with a link sent to this address" : "changed",
    sessions: payload.how === "reset" ? "Every session was signed out." : "Every other session was signed out.",
    resetLink: `${deps.publicUrl}/forgot-password`,
    eraseAt: `${(payload.eraseAt ?? "").replace("T", " ").slice(0, 16)} UTC`,
  };
  const path = PATH[type];
  if (path) {
    const token = deps.sealer.open(payload.sealedToken ?? "", sealContext(type, user.id));
    if (!token) {
      deps.log?.error({ event: event.id, type }, "mail not sent: its sealed token does not open with this key");
      return undefined;
    }
    vars.link = `${deps.publicUrl}${path}?token=${token}`;
    vars.token = token;
  }
  return vars;
}

/** Where the mail goes: the account's address, but for the two mails about a change of address. */
async function recipientOf(
  deps: MailDeps,
  db: Kysely<IdentityTables>,
  event: Envelope,
  vars: Record<string, string>,
  user: { id: string; email: string },
): Promise<string | undefined> {
  if (event.type === "EmailChangeRequested") return emailOfToken(db, sha256(vars.token ?? ""));
  if (event.type === "EmailChanged") {
    const { sealedOldEmail } = accountEvents.EmailChanged.parse(event.payload);
    return deps.sealer.open(sealedOldEmail, sealContext("EmailChanged", user.id));
  }
  return user.email;
}

export function mailConsumer(deps: MailDeps): EventHandler {
  return {
    name: "identity.mail",
    schema: "identity",
    topics: [ACCOUNT_TOPIC],
    async handle(event: Envelope, trx: Transaction<unknown>) {
      const type = event.type;
      if (!isMailedEvent(type)) return;
      const db = trx as unknown as Kysely<IdentityTables>;
      const userId = String((event.payload as { userId?: unknown }).userId ?? "");
      const user = await db
        .selectFrom("identity.users")
        .select(["id", "email", "username", "display_name"])
        .where("id", "=", userId)
        .executeTakeFirst();
      if (!user) return; // the account is gone: nothing to tell anyone
      const vars = varsOf(deps, event, type, user);
      if (!vars) return;
      const to = await recipientOf(deps, db, event, vars, user);
      if (!to) {
        deps.log?.error({ event: event.id, type }, "mail not sent: its address is gone or does not open");
        return;
      }
      const mail = renderMail(MAILS[type], vars);
      await deps.mailer.send({ id: event.id, to, ...mail });
    },
  };
}
