/**
 * The events identity writes (README "Events"): UserRegistered and
 * ProfileUpdated on topic nova.identity.user, keyed by the user, each carrying
 * the public profile as written. Writers build them with `userEvent` and
 * write them with `writeUserEvents`; a consumer reads them with
 * `USER_EVENTS.parse` or a `USER_EVENTS.reader`, so a payload change breaks
 * both at compile time.
 */
import { z } from "zod";
import { type DeclaredEvent, defineEvents, payloadId } from "../../platform/events/declare.ts";

export const USER_AGGREGATE = "user" as const;

/** The public profile: what search indexes and others show (never the email). */
export const userPayload = z.object({
  userId: payloadId("a user id"),
  username: z.string(),
  displayName: z.string(),
  bio: z.string(),
  avatarUrl: z.string(),
  /** RFC 3339. */
  createdAt: z.string(),
});
export type UserPayload = z.input<typeof userPayload>;

/** Every event type identity writes, with its payload. */
export const identityEvents = {
  UserRegistered: userPayload,
  ProfileUpdated: userPayload,
} as const;
export type IdentityEventType = keyof typeof identityEvents;

/** The declaration: topic nova.identity.user, keyed by the user. */
export const USER_EVENTS = defineEvents("identity", USER_AGGREGATE, identityEvents, (p) => p.userId);
export const USER_TOPIC = USER_EVENTS.topic;

/** An identity event ready for the outbox (only `userEvent` makes one). */
export type UserEvent = DeclaredEvent<typeof USER_AGGREGATE, IdentityEventType>;

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
  return USER_EVENTS.event(type, payload.userId, payload);
}

/** Writes identity events into the outbox in the transaction of their change. */
export const writeUserEvents = USER_EVENTS.write;

// ---- account events: what the mail consumer (mail.ts) turns into mail

export const ACCOUNT_AGGREGATE = "account" as const;

/**
 * A one-time token travels to the mail consumer sealed (AES-256-GCM, identity's key,
 * see platform/security/seal.ts): the outbox, Kafka and the DLQ never hold it in clear.
 */
const sealedTokenPayload = z.object({ userId: payloadId("a user id"), sealedToken: z.string().min(1) });
export const accountEvents = {
  /** Mail a verification link (sign-up, resend). */
  VerificationRequested: sealedTokenPayload,
  /** Mail a password-reset link. */
  PasswordResetRequested: sealedTokenPayload,
  /** Tell the owner their password changed (a reset or a change). */
  PasswordChanged: z.object({ userId: payloadId("a user id"), how: z.enum(["reset", "change"]) }),
  /** Tell the owner of a registered address that someone tried to sign up with it. */
  SignUpAttemptWithExistingEmail: z.object({ userId: payloadId("a user id") }),
  /** Mail a link confirming a new address, to the new address (the token's). */
  EmailChangeRequested: sealedTokenPayload,
  /** Tell the old address it is no longer the account's (it travels sealed, like a token). */
  EmailChanged: z.object({ userId: payloadId("a user id"), sealedOldEmail: z.string().min(1) }),
  /** Tell the owner two-factor sign-in was turned on. */
  TwoFactorEnabled: z.object({ userId: payloadId("a user id") }),
  /** Tell the owner two-factor sign-in was turned off. */
  TwoFactorDisabled: z.object({ userId: payloadId("a user id") }),
  /** The owner asked for the account's deletion: it is erased at `eraseAt` (RFC 3339) unless a sign-in cancels it. */
  AccountDeletionRequested: z.object({ userId: payloadId("a user id"), eraseAt: z.string() }),
  /** The deletion was cancelled (by the owner, or by signing in during the grace period). */
  AccountDeletionCancelled: z.object({ userId: payloadId("a user id") }),
  /**
   * The account is erased: identity's rows are gone, and every service erases what it holds of the
   * user on this event (idempotently). The one event that still names the id once the account is gone.
   */
  AccountErased: z.object({ userId: payloadId("a user id") }),
} as const;
export type AccountEventType = keyof typeof accountEvents;
export type AccountPayload<T extends AccountEventType> = z.input<(typeof accountEvents)[T]>;

/**
 * The declaration: topic nova.identity.account, keyed by the user; read by identity's own mail consumer,
 * and for AccountErased by every service's erasure consumer.
 */
export const ACCOUNT_EVENTS = defineEvents("identity", ACCOUNT_AGGREGATE, accountEvents, (p) => p.userId);
export const ACCOUNT_TOPIC = ACCOUNT_EVENTS.topic;

export type AccountEvent = DeclaredEvent<typeof ACCOUNT_AGGREGATE, AccountEventType>;

/** The context a token is sealed for: one event type and one user. */
export function sealContext(type: AccountEventType, userId: string): string {
  return `identity.${type}:${userId}`;
}

/** An account event: the user is its key and its actor. */
export function accountEvent<T extends AccountEventType>(type: T, payload: AccountPayload<T>): AccountEvent {
  return ACCOUNT_EVENTS.event(type, payload.userId, payload);
}

export const writeAccountEvents = ACCOUNT_EVENTS.write;
