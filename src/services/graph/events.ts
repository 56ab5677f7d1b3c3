/**
 * The events the graph writes (README "Events"): topic nova.graph.relationship,
 * keyed by the subject (the follower, blocker or muter), so one subject's
 * changes stay in order. Writers build them with `relationshipEvent` and
 * write them with `writeRelationshipEvents`; consumers read them with
 * `GRAPH_EVENTS.parse` or a `GRAPH_EVENTS.reader`, so a payload change breaks
 * both at compile time.
 */
import { z } from "zod";
import { type DeclaredEvent, defineEvents, payloadId } from "../../platform/events/declare.ts";

export const RELATIONSHIP_AGGREGATE = "relationship" as const;

// Written in lower case; an upper-case id is a user id too, and is read lower-cased.
const userId = payloadId("a user id");

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
  /**
   * An erased account's follows went (identity's AccountErased): `userId` lost that many followers and
   * followees. One per user linked to the erased account, keyed by them; the erased id is not named.
   */
  FollowsErased: z.object({ userId, followers: z.number().int().min(0), following: z.number().int().min(0) }),
  /** `userId` asked to follow the private account `targetId`. */
  FollowRequested: pairPayload,
  /** The request of `userId` to `targetId` is gone unanswered: withdrawn by `userId`, or ended by a block. */
  FollowRequestCanceled: pairPayload,
  /** `targetId` (the actor) approved the request of `userId`; a Followed of the pair comes with it. */
  FollowRequestApproved: pairPayload,
  /** `targetId` (the actor) denied the request of `userId`. */
  FollowRequestDenied: pairPayload,
} as const;

/** The declaration: keyed by the subject, `payload.userId`. */
export const GRAPH_EVENTS = defineEvents("graph", RELATIONSHIP_AGGREGATE, graphEvents, (p) => p.userId);
export const RELATIONSHIP_TOPIC = GRAPH_EVENTS.topic;

export type GraphEventType = keyof typeof graphEvents;
export type GraphPayload<T extends GraphEventType> = z.infer<(typeof graphEvents)[T]>;

/** A graph event ready for the outbox (only `relationshipEvent` makes one). */
export type RelationshipEvent = DeclaredEvent<typeof RELATIONSHIP_AGGREGATE, GraphEventType>;

/** The event to write for `type`: keyed by its subject, `payload.userId`; `actorId` is the caller. */
export function relationshipEvent<T extends GraphEventType>(
  type: T,
  payload: z.input<(typeof graphEvents)[T]>,
  actorId: string,
): RelationshipEvent {
  return GRAPH_EVENTS.event(type, actorId, payload);
}

/** Writes graph events into the outbox in the transaction of their change. */
export const writeRelationshipEvents = GRAPH_EVENTS.write;
