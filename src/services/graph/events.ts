/**
 * The events the graph writes (README "Events"): topic nova.graph.relationship,
 * keyed by the subject (the follower, blocker or muter), so one subject's
 * changes stay in order. Writers build them with `relationshipEvent` and
 * write them with `writeRelationshipEvents`; consumers read them with
 * `graphPayload`, so a payload change breaks both at compile time.
 */
import type { Transaction } from "kysely";
import { z } from "zod";
import type { Envelope } from "../../platform/events/envelope.ts";
import { topicOf } from "../../platform/events/envelope.ts";
import type { NewEvent, Outbox } from "../../platform/events/outbox.ts";
import { isUuid } from "../../platform/validate.ts";

export const RELATIONSHIP_AGGREGATE = "relationship" as const;
export const RELATIONSHIP_TOPIC = topicOf("graph", RELATIONSHIP_AGGREGATE);

// Written in lower case; a consumer lower-cases what it reads, so an upper-case id is a user id too.
const userId = z.string().refine((v) => isUuid(v.toLowerCase()), "must be a user id");

/** `userId` followed, blocked or muted `targetId` (or undid it). */
export const pairPayload = z.object({ userId, targetId: userId });

/** An Unfollowed that a block caused says so; its `userId` is the follower, not the blocker. */
export const unfollowedPayload = z.object({ userId, targetId: userId, reason: z.literal("blocked").optional() });

/** Every event type the graph writes, with its payload. */
export const graphEvents = {
  Followed: pairPayload,
  Unfollowed: unfollowedPayload,
  Blocked: pairPayload,
  Unblocked: pairPayload,
  Muted: pairPayload,
  Unmuted: pairPayload,
} as const;

export type GraphEventType = keyof typeof graphEvents;
export type GraphPayload<T extends GraphEventType> = z.infer<(typeof graphEvents)[T]>;

/** A graph event ready for the outbox (only `relationshipEvent` makes one). */
export type RelationshipEvent = NewEvent & { readonly type: GraphEventType; readonly aggregateType: "relationship" };

/** The event to write for `type`: keyed by its subject, `payload.userId`; `actorId` is the caller. */
export function relationshipEvent<T extends GraphEventType>(
  type: T,
  payload: GraphPayload<T>,
  actorId: string,
): RelationshipEvent {
  return { type, aggregateType: RELATIONSHIP_AGGREGATE, aggregateId: payload.userId, actorId, payload };
}

/** Writes graph events into the outbox in the transaction of their change. */
export function writeRelationshipEvents<DB>(
  outbox: Outbox,
  trx: Transaction<DB>,
  ...events: RelationshipEvent[]
): Promise<Envelope[]> {
  // The outbox takes any schema's transaction; its rows are the outbox's own table.
  return outbox.emit(trx as unknown as Transaction<unknown>, ...events);
}

/** A received event's payload checked against its type's schema; undefined when it does not match. */
export function graphPayload<T extends GraphEventType>(type: T, payload: unknown): GraphPayload<T> | undefined {
  const r = graphEvents[type].safeParse(payload);
  return r.success ? (r.data as GraphPayload<T>) : undefined;
}
