/**
 * The events the notifications service writes. NotificationCreated (topic
 * nova.notifications.notification, keyed by the recipient) is written through
 * the outbox whenever a notification is created or a group gains an actor (or
 * more activity); the push consumer (consumers.ts) and the realtime publisher
 * read it.
 */
import { z } from "zod";
import { topicOf } from "../../platform/events/envelope.ts";
import type { NewEvent } from "../../platform/events/outbox.ts";
import { TYPES } from "./validation.ts";

export const NOTIFICATION_AGGREGATE = "notification";
export const NOTIFICATION_TOPIC = topicOf("notifications", NOTIFICATION_AGGREGATE);

/** The payload of NotificationCreated. Writers build it in this key order (the bytes on the wire follow it). */
export const NotificationCreatedSchema = z.object({
  userId: z.string(),
  notificationId: z.string(),
  type: z.enum(TYPES),
  /** Most recent first, at most 3. */
  actorIds: z.array(z.string()),
  actorCount: z.number().int(),
  /** Post, comment's post, mention's post or conversation id; "" for FOLLOW. */
  subjectId: z.string(),
  /** True when an existing group gained an actor (or more activity). */
  grouped: z.boolean(),
  createdAt: z.string(),
  // Added fields:
  updatedAt: z.string(),
  activityCount: z.number().int(),
  /** The post, when the subject is a post ("" otherwise). */
  postId: z.string(),
});
export type NotificationCreated = z.infer<typeof NotificationCreatedSchema>;

export const NOTIFICATION_EVENTS = {
  NotificationCreated: {
    type: "NotificationCreated",
    aggregateType: NOTIFICATION_AGGREGATE,
    topic: NOTIFICATION_TOPIC,
    payload: NotificationCreatedSchema,
  },
} as const;

/** The NotificationCreated event for the outbox: keyed by the recipient (payload.userId), by the actor. */
export function notificationCreated(payload: NotificationCreated, actorId: string): NewEvent {
  return {
    type: NOTIFICATION_EVENTS.NotificationCreated.type,
    aggregateType: NOTIFICATION_AGGREGATE,
    aggregateId: payload.userId,
    actorId,
    payload,
  };
}

/** A NotificationCreated this service wrote itself, as its declared type (not re-validated: we wrote it). */
export function notificationCreatedOf(payload: Record<string, unknown>): NotificationCreated {
  return payload as unknown as NotificationCreated;
}
