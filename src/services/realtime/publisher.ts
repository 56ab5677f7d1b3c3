/**
 * The `realtime` module's consumer: events in, pushes out. Each event that a
 * subscriber may want becomes one push on the bus channel of whoever should
 * hear about it (the members of a conversation, a notification's recipient,
 * the author's channel for a new post, the follower for a follow change).
 * Pushes are published inside the consumer's transaction, so an event is
 * pushed at least once; processed_events stops a redelivery from pushing again.
 *
 * A payload is read by the keys its writer declares (the types of graph/, content/, messaging/ and
 * notifications/events.ts, so renaming a field breaks this file at compile time), but leniently, not
 * checked against the schema: a push is best effort, so a field of the wrong type reads as "" (or
 * pushes nothing) instead of sending the event to the DLQ, where it would only be replayed stale.
 */

import type { EventHandler } from "../../platform/events/consumer.ts";
import type { Envelope } from "../../platform/events/envelope.ts";
import { counter } from "../../platform/observability/metrics.ts";
import type { Bus } from "../../platform/pubsub/bus.ts";
import { POST_EVENTS, type PostEventPayload } from "../content/events.ts";
import { GRAPH_EVENTS, type GraphPayload } from "../graph/events.ts";
import { MESSAGING, type MessageSent } from "../messaging/events.ts";
import { NOTIFICATION_EVENTS, type NotificationCreated } from "../notifications/events.ts";
import { authorChannel, type Push, userChannel } from "./channels.ts";

const dropped = counter("nova_realtime_pushes_dropped_total", "Pushes dropped because the bus refused them");

export const REALTIME_TOPICS = [GRAPH_EVENTS.topic, POST_EVENTS.topic, MESSAGING.topic, NOTIFICATION_EVENTS.topic];

/** A payload read leniently: its writer's declared keys, each of any value (or missing). */
type Loose<T> = { readonly [K in keyof T]?: unknown };
const loose = <T>(event: Envelope) => event.payload as Loose<T>;

const str = (v: unknown): string => (typeof v === "string" ? v : "");
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

/** The pushes one event causes, as [channel, push] pairs. */
export function pushesOf(event: Envelope): [string, Push][] {
  switch (event.type) {
    case "MessageSent": {
      const p = loose<MessageSent>(event);
      const push: Push = {
        kind: "message",
        messageId: str(p.messageId),
        conversationId: str(p.conversationId),
        senderId: str(p.senderId),
        text: str(p.text),
        encrypted: p.encrypted === true,
        ciphertext: str(p.ciphertext),
        keyId: str(p.keyId),
        clientMessageId: str(p.clientMessageId),
        createdAt: str(p.createdAt) || event.occurred_at,
        ...(Array.isArray(p.attachments) && p.attachments.length
          ? { attachments: p.attachments.map((a) => ({ mediaId: str(a?.mediaId), alt: str(a?.alt) })) }
          : {}),
      };
      const to = new Set([...strs(p.recipientIds), str(p.senderId)].filter(Boolean));
      return [...to].map((u) => [userChannel(u), push]);
    }
    case "NotificationCreated": {
      const p = loose<NotificationCreated>(event);
      return str(p.userId)
        ? [[userChannel(str(p.userId)), { kind: "notification", notificationId: str(p.notificationId) }]]
        : [];
    }
    case "PostCreated": {
      const p = loose<PostEventPayload<"PostCreated">>(event);
      const authorId = str(p.authorId) || (event.actor_id ?? "");
      return authorId ? [[authorChannel(authorId), { kind: "post", postId: str(p.postId), authorId }]] : [];
    }
    case "Followed":
    case "Unfollowed": {
      const p = loose<GraphPayload<"Followed">>(event);
      return str(p.userId)
        ? [
            [
              userChannel(str(p.userId)),
              { kind: "follow", targetId: str(p.targetId), following: event.type === "Followed" },
            ],
          ]
        : [];
    }
    default:
      return [];
  }
}

export function pushPublisher(bus: Bus): EventHandler {
  return {
    name: "realtime.push",
    schema: "realtime",
    topics: REALTIME_TOPICS,
    async handle(event) {
      // A push is worth little late: when the bus is down it is dropped (and counted), never retried
      // into the DLQ, where it would only be replayed stale.
      const results = await Promise.allSettled(
        pushesOf(event).map(([channel, push]) => bus.publish(channel, JSON.stringify(push))),
      );
      for (const r of results) if (r.status === "rejected") dropped.inc();
    },
  };
}
