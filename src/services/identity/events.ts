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
