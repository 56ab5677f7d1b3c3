/**
 * The events the notifications service writes. NotificationCreated (topic
 * nova.notifications.notification, keyed by the recipient) is written through
 * the outbox whenever a notification is created or a group gains an actor (or
 * more activity); the push consumer (consumers.ts) and the realtime publisher
 * read it, with `NOTIFICATION_EVENTS.reader`.
 */
import { z } from "zod";
import { type DeclaredEvent, defineEvents } from "../../platform/events/declare.ts";
import { TYPES } from "./validation.ts";

export const NOTIFICATION_AGGREGATE = "notification";

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

/** The declaration: topic nova.notifications.notification, keyed by the recipient. */
export const NOTIFICATION_EVENTS = defineEvents(
  "notifications",
  NOTIFICATION_AGGREGATE,
  { NotificationCreated: NotificationCreatedSchema },
  (p) => p.userId,
);
export const NOTIFICATION_TOPIC = NOTIFICATION_EVENTS.topic;

/** The NotificationCreated event for the outbox: keyed by the recipient (payload.userId), by the actor. */
export function notificationCreated(
  payload: NotificationCreated,
  actorId: string,
): DeclaredEvent<typeof NOTIFICATION_AGGREGATE, "NotificationCreated"> {
  return NOTIFICATION_EVENTS.event("NotificationCreated", actorId, payload);
}
