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
