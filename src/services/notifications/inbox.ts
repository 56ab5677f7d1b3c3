/**
 * The inbox consumer (`notifications.inbox`): turns the graph's, content's and
 * messaging's events into grouped notifications, and keeps the small
 * projection of blocks and mutes the rules need. One handler reads all three
 * topics, so in the embedded log a block and a later like arrive in commit
 * order; on Kafka (no order across topics) a block also removes the blocked
 * user's earlier contributions, so a like that raced the block is taken back.
 *
 * Grouping (as Mastodon's grouped notifications): likes of one post, follows,
 * comments on one post, mentions in one post and messages of one conversation
 * form one notification while it is unread and younger than the window. Every
 * change of a group runs under a transaction lock on (recipient, group key),
 * so concurrent events for one group never create two groups or lose an
 * actor; the processed_events row the consumer commits with the effect makes
 * a redelivered event a no-op. A NotificationCreated event is written through
 * the outbox in the same transaction whenever a notification is created or a
 * group gains an actor (or a comment, mention or message of an actor already
 * in it), and only when the recipient's preferences allow the type.
 */
import { sql, type Transaction } from "kysely";
import type { EventHandler } from "../../platform/events/consumer.ts";
import { type Envelope, topicOf } from "../../platform/events/envelope.ts";
import type { NewEvent, Outbox } from "../../platform/events/outbox.ts";
import { counter } from "../../platform/observability/metrics.ts";
import { isUuid, uuidv7 } from "../../platform/validate.ts";
import type { NotificationType } from "./validation.ts";

export const TOPICS = {
  relationship: topicOf("graph", "relationship"),
  post: topicOf("content", "post"),
  conversation: topicOf("messaging", "conversation"),
  notification: topicOf("notifications", "notification"),
} as const;

export interface InboxOptions {
  /** A group gains actors while unread and younger than this. */
  groupWindowMs: number;
}

/** The payload of NotificationCreated (topic nova.notifications.notification, keyed by the recipient). */
export interface NotificationCreated {
  userId: string;
  notificationId: string;
  type: NotificationType;
  /** Most recent first, at most 3. */
  actorIds: string[];
  actorCount: number;
  /** Post, comment's post, mention's post or conversation id; "" for FOLLOW. */
  subjectId: string;
  /** True when an existing group gained an actor (or more activity). */
  grouped: boolean;
  createdAt: string;
  // Added fields:
  updatedAt: string;
  activityCount: number;
  /** The post, when the subject is a post ("" otherwise). */
  postId: string;
}

const outcomes = counter("nova_notifications_events_total", "Activity the inbox consumer saw, by type and outcome", [
  "type",
  "outcome",
]);

function id(p: Record<string, unknown>, name: string, event: Envelope): string {
  const v = p[name];
  if (typeof v !== "string" || !isUuid(v.toLowerCase())) {
    throw new Error(`${event.type} ${event.id}: payload.${name} must be an id`);
  }
  return v.toLowerCase();
}

/** Repeated activity of an actor already in a group counts for these types (a second like does not). */
const REPEATABLE: ReadonlySet<NotificationType> = new Set(["COMMENT", "MENTION", "MESSAGE"]);

export interface Activity {
  recipient: string;
  actor: string;
  type: NotificationType;
  /** The post or conversation ("" for FOLLOW). */
  subjectId: string;
  postId: string | null;
}

type Outcome = "created" | "grouped" | "repeated" | "duplicate_actor" | "self" | "hidden" | "disabled";

export function createInbox(deps: { outbox: Outbox; options: InboxOptions }) {
  const { outbox, options } = deps;

  /**
   * Applies activities to their recipients' inboxes inside `trx`, in order, in one round trip
   * (`notifications.apply_activities`, migration 0002: the rules and the group's lock, then the open
   * group gains the actor or a notification is created), and writes one NotificationCreated per
   * notification created or changed through the outbox.
   */
  async function notifyAll(trx: Transaction<unknown>, activities: Activity[]): Promise<Outcome[]> {
    const out: Outcome[] = activities.map((a) => (a.actor === a.recipient ? "self" : "duplicate_actor"));
    const todo = activities.flatMap((a, i) => (a.actor === a.recipient ? [] : [{ a, i }]));
    if (todo.length === 0) return out;
    const col = <T>(f: (a: Activity) => T) => todo.map((x) => f(x.a));
    const rows = await sql<{
      n: number;
      o_outcome: Outcome;
      o_id: string | null;
      o_actor_ids: string[] | null;
      o_actor_count: number | null;
      o_activity_count: number | null;
      o_created_at: Date | null;
      o_updated_at: Date | null;
    }>`SELECT n, o_outcome, o_id::text AS o_id, o_actor_ids::text[] AS o_actor_ids, o_actor_count, o_activity_count,
        o_created_at, o_updated_at
      FROM notifications.apply_activities(${todo.map(() => uuidv7())}::uuid[], ${col((a) => a.recipient)}::uuid[],
        ${col((a) => a.actor)}::uuid[], ${col((a) => a.type)}::text[], ${col((a) => a.subjectId)}::text[],
        ${col((a) => a.postId)}::uuid[], ${col((a) => REPEATABLE.has(a.type))}::boolean[],
        make_interval(secs => ${options.groupWindowMs / 1000}))`.execute(trx);
    const events: NewEvent[] = [];
    for (const r of rows.rows) {
      const { a, i } = todo[r.n - 1] as { a: Activity; i: number };
      out[i] = r.o_outcome;
      if (!r.o_id || !r.o_actor_ids || !r.o_created_at || !r.o_updated_at) continue;
      const payload: NotificationCreated = {
        userId: a.recipient,
        notificationId: r.o_id,
        type: a.type,
        actorIds: r.o_actor_ids,
        actorCount: r.o_actor_count ?? 0,
        subjectId: a.subjectId,
        grouped: r.o_outcome !== "created",
        createdAt: r.o_created_at.toISOString(),
        updatedAt: r.o_updated_at.toISOString(),
        activityCount: r.o_activity_count ?? 0,
        postId: a.postId ?? "",
      };
      events.push({
        type: "NotificationCreated",
        aggregateType: "notification",
        aggregateId: a.recipient,
        actorId: a.actor,
        payload: payload as unknown as Record<string, unknown>,
      });
    }
    for (let e = 0; e < events.length; e += 1_000) await outbox.emit(trx, ...events.slice(e, e + 1_000));
    return out;
  }

  /**
   * Takes `actor`'s contributions out of `recipient`'s notifications (after a
   * block): their actor rows go, each touched group is recounted, and a group
   * left without actors is deleted.
   */
  async function removeActor(trx: Transaction<unknown>, recipient: string, actor: string): Promise<void> {
    const touched = await sql<{ id: string }>`DELETE FROM notifications.notification_actors
      WHERE user_id = ${recipient}::uuid AND actor_id = ${actor}::uuid RETURNING notification_id::text AS id`.execute(
      trx,
    );
    if (touched.rows.length === 0) return;
    const ids = touched.rows.map((r) => r.id);
    await sql`DELETE FROM notifications.notifications n WHERE n.id = ANY(${ids}::uuid[])
      AND NOT EXISTS (SELECT 1 FROM notifications.notification_actors x WHERE x.notification_id = n.id)`.execute(trx);
    await sql`UPDATE notifications.notifications n SET
        actor_count = (SELECT count(*) FROM notifications.notification_actors x WHERE x.notification_id = n.id),
        actor_ids = ARRAY(SELECT actor_id FROM notifications.notification_actors x
          WHERE x.notification_id = n.id ORDER BY acted_at DESC, actor_id LIMIT 3)
      WHERE n.id = ANY(${ids}::uuid[])`.execute(trx);
  }

  async function hide(trx: Transaction<unknown>, user: string, actor: string, reason: "block" | "mute") {
    await sql`INSERT INTO notifications.hidden (user_id, actor_id, reason)
      VALUES (${user}::uuid, ${actor}::uuid, ${reason}) ON CONFLICT DO NOTHING`.execute(trx);
  }

  async function unhide(trx: Transaction<unknown>, user: string, actor: string, reason: "block" | "mute") {
    await sql`DELETE FROM notifications.hidden
      WHERE user_id = ${user}::uuid AND actor_id = ${actor}::uuid AND reason = ${reason}`.execute(trx);
  }

  /**
   * The activities an event notifies about, in the order they are applied; undefined for the events
   * that change the rules or remove notifications instead (see applyOther).
   */
  function activitiesOf(event: Envelope): Activity[] | undefined {
    const p = event.payload;
    switch (event.type) {
      case "Followed":
        if (event.aggregate_type !== "relationship") return undefined;
        return [
          {
            recipient: id(p, "targetId", event),
            actor: id(p, "userId", event),
            type: "FOLLOW",
            subjectId: "",
            postId: null,
          },
        ];
      case "PostLiked":
      case "CommentCreated":
      case "Mentioned": {
        if (event.aggregate_type !== "post") return undefined;
        const postId = id(p, "postId", event);
        const [type, recipient, actor]: [NotificationType, string, string] =
          event.type === "PostLiked"
            ? ["LIKE", "authorId", "userId"]
            : event.type === "CommentCreated"
              ? ["COMMENT", "postAuthorId", "authorId"]
              : ["MENTION", "mentionedId", "authorId"];
        return [{ recipient: id(p, recipient, event), actor: id(p, actor, event), type, subjectId: postId, postId }];
      }
      case "MessageSent": {
        if (event.aggregate_type !== "conversation") return undefined;
        const conversationId = id(p, "conversationId", event);
        const sender = id(p, "senderId", event);
        if (!Array.isArray(p.recipientIds))
          throw new Error(`MessageSent ${event.id}: payload.recipientIds must be a list`);
        const recipients = [
          ...new Set(
            p.recipientIds.map((r, i) => {
              if (typeof r !== "string" || !isUuid(r.toLowerCase())) {
                throw new Error(`MessageSent ${event.id}: payload.recipientIds[${i}] must be an id`);
              }
              return r.toLowerCase();
            }),
          ),
        ].sort(); // id order: two messages to the same people never take group locks in opposite orders
        return recipients.map((recipient) => ({
          recipient,
          actor: sender,
          type: "MESSAGE" as const,
          subjectId: conversationId,
          postId: null,
        }));
      }
      default:
        return undefined;
    }
  }

  /** Blocks, mutes and their undoing change the rules; a deleted post takes its notifications along. */
  async function applyOther(event: Envelope, trx: Transaction<unknown>): Promise<void> {
    const p = event.payload;
    if (event.aggregate_type === "relationship") {
      switch (event.type) {
        case "Blocked": {
          const [user, target] = [id(p, "userId", event), id(p, "targetId", event)];
          await hide(trx, user, target, "block");
          await hide(trx, target, user, "block");
          await removeActor(trx, user, target);
          await removeActor(trx, target, user);
          return;
        }
        case "Unblocked": {
          const [user, target] = [id(p, "userId", event), id(p, "targetId", event)];
          await unhide(trx, user, target, "block");
          await unhide(trx, target, user, "block");
          return;
        }
        case "Muted":
          await hide(trx, id(p, "userId", event), id(p, "targetId", event), "mute");
          return;
        case "Unmuted":
          await unhide(trx, id(p, "userId", event), id(p, "targetId", event), "mute");
          return;
      }
    }
    if (event.aggregate_type === "post" && (event.type === "PostDeleted" || event.type === "PostPurged")) {
      // Notifications about a post that is gone go with it (and leave the unread count).
      await sql`DELETE FROM notifications.notifications WHERE post_id = ${id(p, "postId", event)}::uuid`.execute(trx);
    }
  }

  /** Applies the activities of consecutive events at once (one round trip), counting each outcome. */
  async function flush(trx: Transaction<unknown>, pending: { label: string; activity: Activity }[]) {
    if (pending.length === 0) return;
    const done = await notifyAll(
      trx,
      pending.map((x) => x.activity),
    );
    for (const [i, outcome] of done.entries()) outcomes.inc({ type: (pending[i] as { label: string }).label, outcome });
    pending.length = 0;
  }

  const label = (event: Envelope) => (event.type === "MessageSent" ? "MESSAGE" : event.type);

  const handler: EventHandler = {
    name: "notifications.inbox",
    schema: "notifications",
    topics: [TOPICS.relationship, TOPICS.post, TOPICS.conversation],
    async handle(event, trx) {
      const activities = activitiesOf(event);
      if (!activities) return applyOther(event, trx);
      await flush(
        trx,
        activities.map((activity) => ({ label: label(event), activity })),
      );
    },
    async handleBatch(events, trx) {
      const pending: { label: string; activity: Activity }[] = [];
      for (const event of events) {
        const activities = activitiesOf(event);
        if (activities) {
          for (const activity of activities) pending.push({ label: label(event), activity });
          continue;
        }
        await flush(trx, pending);
        await applyOther(event, trx);
      }
      await flush(trx, pending);
    },
  };

  return { handler };
}
