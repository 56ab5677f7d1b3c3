/**
 * The events identity writes (README "Events"): UserRegistered and
 * ProfileUpdated on topic nova.identity.user, keyed by the user, each carrying
 * the public profile as written. Writers build them with `userEvent` and
 * write them with `writeUserEvents`; a consumer checks a payload with
 * `userPayload`, so a payload change breaks both at compile time.
 */
import type { Transaction } from "kysely";
import { z } from "zod";
import { type Envelope, topicOf } from "../../platform/events/envelope.ts";
import type { NewEvent, Outbox } from "../../platform/events/outbox.ts";

export const USER_AGGREGATE = "user" as const;
export const USER_TOPIC = topicOf("identity", USER_AGGREGATE);

/** The public profile: what search indexes and others show (never the email). */
export const userPayload = z.object({
  userId: z.string(),
  username: z.string(),
  displayName: z.string(),
  bio: z.string(),
  avatarUrl: z.string(),
  /** RFC 3339. */
  createdAt: z.string(),
});
export type UserPayload = z.infer<typeof userPayload>;

/** Every event type identity writes, with its payload. */
export const identityEvents = {
  UserRegistered: userPayload,
  ProfileUpdated: userPayload,
} as const;
export type IdentityEventType = keyof typeof identityEvents;

/** An identity event ready for the outbox (only `userEvent` makes one). */
export type UserEvent = NewEvent & { readonly type: IdentityEventType; readonly aggregateType: typeof USER_AGGREGATE };

/** The profile as identity's events carry it, from a user's row. */
export function profilePayload(row: {
  id: string;
  username: string;
  display_name: string;
  bio: string;
  avatar_url: string;
  created_at: Date;
}): UserPayload {
  return {
    userId: row.id,
    username: row.username,
    displayName: row.display_name,
    bio: row.bio,
    avatarUrl: row.avatar_url,
    createdAt: row.created_at.toISOString(),
  };
}

/** The event for a change the user made to their own account: keyed by them, and they are its actor. */
export function userEvent(type: IdentityEventType, payload: UserPayload): UserEvent {
  return { type, aggregateType: USER_AGGREGATE, aggregateId: payload.userId, actorId: payload.userId, payload };
}

/** Writes identity events into the outbox in the transaction of their change. */
export function writeUserEvents<DB>(outbox: Outbox, trx: Transaction<DB>, ...events: UserEvent[]): Promise<Envelope[]> {
  // The outbox takes any schema's transaction; its rows are the outbox's own table.
  return outbox.emit(trx as unknown as Transaction<unknown>, ...events);
}

// ---- account events: what the mail consumer (mail.ts) turns into mail

export const ACCOUNT_AGGREGATE = "account" as const;
/** Keyed by the user; read only by identity's own mail consumer. */
export const ACCOUNT_TOPIC = topicOf("identity", ACCOUNT_AGGREGATE);

/**
 * A one-time token travels to the mail consumer sealed (AES-256-GCM, identity's key,
 * see platform/security/seal.ts): the outbox, Kafka and the DLQ never hold it in clear.
 */
const sealedTokenPayload = z.object({ userId: z.string(), sealedToken: z.string().min(1) });
export const accountEvents = {
  /** Mail a verification link (sign-up, resend). */
  VerificationRequested: sealedTokenPayload,
  /** Mail a password-reset link. */
  PasswordResetRequested: sealedTokenPayload,
  /** Tell the owner their password changed (a reset or a change). */
  PasswordChanged: z.object({ userId: z.string(), how: z.enum(["reset", "change"]) }),
  /** Tell the owner of a registered address that someone tried to sign up with it. */
  SignUpAttemptWithExistingEmail: z.object({ userId: z.string() }),
} as const;
export type AccountEventType = keyof typeof accountEvents;
export type AccountPayload<T extends AccountEventType> = z.infer<(typeof accountEvents)[T]>;

export type AccountEvent = NewEvent & { readonly aggregateType: typeof ACCOUNT_AGGREGATE };

/** The context a token is sealed for: one event type and one user. */
export function sealContext(type: AccountEventType, userId: string): string {
  return `identity.${type}:${userId}`;
}

export function accountEvent<T extends AccountEventType>(type: T, payload: AccountPayload<T>): AccountEvent {
  return { type, aggregateType: ACCOUNT_AGGREGATE, aggregateId: payload.userId, actorId: payload.userId, payload };
}

export function writeAccountEvents<DB>(outbox: Outbox, trx: Transaction<DB>, ...events: AccountEvent[]) {
  return outbox.emit(trx as unknown as Transaction<unknown>, ...events);
}
