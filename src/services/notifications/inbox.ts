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
import type { Outbox } from "../../platform/events/outbox.ts";
import { uuidv7 } from "../../platform/ids.ts";
import { counter } from "../../platform/observability/metrics.ts";
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function id(p: Record<string, unknown>, name: string, event: Envelope): string {
  const v = p[name];
  if (typeof v !== "string" || !UUID.test(v.toLowerCase())) {
    throw new Error(`${event.type} ${event.id}: payload.${name} must be an id`);
  }
  return v.toLowerCase();
}

/** Repeated activity of an actor already in a group counts for these types (a second like does not). */
const REPEATABLE: ReadonlySet<NotificationType> = new Set(["COMMENT", "MENTION", "MESSAGE"]);

const PREF_COLUMN: Record<NotificationType, string> = {
  FOLLOW: "follow",
  LIKE: "like",
  COMMENT: "comment",
  MENTION: "mention",
  MESSAGE: "message",
};

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

  /** Applies one activity to the recipient's inbox inside `trx`. */
  async function notify(trx: Transaction<unknown>, a: Activity): Promise<Outcome> {
    if (a.actor === a.recipient) return "self";
    const groupKey = `${a.type}:${a.subjectId}`;
    // The rules, and the group's lock (one writer per group at a time: exact under concurrent
    // events for one group), in one round trip.
    const rules = await sql<{ hidden: boolean; enabled: boolean }>`SELECT
        pg_advisory_xact_lock(hashtextextended(${`notifications:${a.recipient}:${groupKey}`}, 0)) IS NULL AS locked,
        EXISTS (SELECT 1 FROM notifications.hidden WHERE user_id = ${a.recipient}::uuid AND actor_id = ${a.actor}::uuid) AS hidden,
        coalesce((SELECT ${sql.ref(PREF_COLUMN[a.type])} FROM notifications.preferences WHERE user_id = ${a.recipient}::uuid), true) AS enabled`.execute(
      trx,
    );
    if (rules.rows[0]?.hidden) return "hidden";
    if (!rules.rows[0]?.enabled) return "disabled";

    const open = await sql<{ id: string }>`SELECT id::text AS id FROM notifications.notifications
      WHERE user_id = ${a.recipient}::uuid AND group_key = ${groupKey} AND read_at IS NULL
        AND created_at > now() - make_interval(secs => ${options.groupWindowMs / 1000})
      ORDER BY created_at DESC LIMIT 1 FOR UPDATE`.execute(trx);
    const existing = open.rows[0]?.id;

    type Fields = {
      actor_ids: string[];
      actor_count: number;
      activity_count: number;
      created_at: Date;
      updated_at: Date;
    };
    const RETURNING = sql`RETURNING actor_ids::text[] AS actor_ids, actor_count, activity_count, created_at, updated_at`;
    let notificationId: string;
    let outcome: Outcome;
    let n: Fields | undefined;
    if (existing === undefined) {
      notificationId = uuidv7();
      n = (
        await sql<Fields>`INSERT INTO notifications.notifications
          (id, user_id, type, subject_id, post_id, group_key, actor_ids, actor_count)
        VALUES (${notificationId}::uuid, ${a.recipient}::uuid, ${a.type}, ${a.subjectId}, ${a.postId}::uuid, ${groupKey},
          ARRAY[${a.actor}::uuid], 1) ${RETURNING}`.execute(trx)
      ).rows[0];
      await sql`INSERT INTO notifications.notification_actors (notification_id, actor_id, user_id, acted_at)
        VALUES (${notificationId}::uuid, ${a.actor}::uuid, ${a.recipient}::uuid, clock_timestamp())`.execute(trx);
      outcome = "created";
    } else {
      notificationId = existing;
      const added = await sql<{ inserted: boolean }>`INSERT INTO notifications.notification_actors AS x
          (notification_id, actor_id, user_id, acted_at)
          VALUES (${notificationId}::uuid, ${a.actor}::uuid, ${a.recipient}::uuid, clock_timestamp())
        -- clock time, not the transaction's: a consumer applies a whole batch in one transaction
        ON CONFLICT (notification_id, actor_id) DO UPDATE SET acted_at = clock_timestamp()
          WHERE ${REPEATABLE.has(a.type)}::boolean
        RETURNING (xmax = 0) AS inserted`.execute(trx);
      const row = added.rows[0];
      if (!row) return "duplicate_actor";
      outcome = row.inserted ? "grouped" : "repeated";
      n = (
        await sql<Fields>`UPDATE notifications.notifications SET
          actor_count = actor_count + ${row.inserted ? 1 : 0},
          activity_count = activity_count + 1,
          actor_ids = ARRAY(SELECT actor_id FROM notifications.notification_actors
            WHERE notification_id = ${notificationId}::uuid ORDER BY acted_at DESC, actor_id LIMIT 3),
          seq = nextval('notifications.notification_seq'),
          updated_at = clock_timestamp()
        WHERE id = ${notificationId}::uuid ${RETURNING}`.execute(trx)
      ).rows[0];
    }
    if (!n) throw new Error(`notification ${notificationId} vanished inside its transaction`);
    const payload: NotificationCreated = {
      userId: a.recipient,
      notificationId,
      type: a.type,
      actorIds: n.actor_ids,
      actorCount: n.actor_count,
      subjectId: a.subjectId,
      grouped: outcome !== "created",
      createdAt: n.created_at.toISOString(),
      updatedAt: n.updated_at.toISOString(),
      activityCount: n.activity_count,
      postId: a.postId ?? "",
    };
    await outbox.emit(trx, {
      type: "NotificationCreated",
      aggregateType: "notification",
      aggregateId: a.recipient,
      actorId: a.actor,
      payload: payload as unknown as Record<string, unknown>,
    });
    return outcome;
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

  async function onRelationship(event: Envelope, trx: Transaction<unknown>): Promise<Outcome | undefined> {
    const p = event.payload;
    switch (event.type) {
      case "Followed": {
        const follower = id(p, "userId", event);
        const target = id(p, "targetId", event);
        return notify(trx, { recipient: target, actor: follower, type: "FOLLOW", subjectId: "", postId: null });
      }
      case "Blocked": {
        const [user, target] = [id(p, "userId", event), id(p, "targetId", event)];
        await hide(trx, user, target, "block");
        await hide(trx, target, user, "block");
        await removeActor(trx, user, target);
        await removeActor(trx, target, user);
        return undefined;
      }
      case "Unblocked": {
        const [user, target] = [id(p, "userId", event), id(p, "targetId", event)];
        await unhide(trx, user, target, "block");
        await unhide(trx, target, user, "block");
        return undefined;
      }
      case "Muted":
        await hide(trx, id(p, "userId", event), id(p, "targetId", event), "mute");
        return undefined;
      case "Unmuted":
        await unhide(trx, id(p, "userId", event), id(p, "targetId", event), "mute");
        return undefined;
      default:
        return undefined;
    }
  }

  async function onPost(event: Envelope, trx: Transaction<unknown>): Promise<Outcome | undefined> {
    const p = event.payload;
    switch (event.type) {
      case "PostLiked": {
        const postId = id(p, "postId", event);
        return notify(trx, {
          recipient: id(p, "authorId", event),
          actor: id(p, "userId", event),
          type: "LIKE",
          subjectId: postId,
          postId,
        });
      }
      case "CommentCreated": {
        const postId = id(p, "postId", event);
        return notify(trx, {
          recipient: id(p, "postAuthorId", event),
          actor: id(p, "authorId", event),
          type: "COMMENT",
          subjectId: postId,
          postId,
        });
      }
      case "Mentioned": {
        const postId = id(p, "postId", event);
        return notify(trx, {
          recipient: id(p, "mentionedId", event),
          actor: id(p, "authorId", event),
          type: "MENTION",
          subjectId: postId,
          postId,
        });
      }
      case "PostDeleted":
      case "PostPurged":
        // Notifications about a post that is gone go with it (and leave the unread count).
        await sql`DELETE FROM notifications.notifications WHERE post_id = ${id(p, "postId", event)}::uuid`.execute(trx);
        return undefined;
      default:
        return undefined;
    }
  }

  async function onConversation(event: Envelope, trx: Transaction<unknown>): Promise<Outcome | undefined> {
    if (event.type !== "MessageSent") return undefined;
    const p = event.payload;
    const conversationId = id(p, "conversationId", event);
    const sender = id(p, "senderId", event);
    if (!Array.isArray(p.recipientIds)) throw new Error(`MessageSent ${event.id}: payload.recipientIds must be a list`);
    const recipients = [
      ...new Set(
        p.recipientIds.map((r, i) => {
          if (typeof r !== "string" || !UUID.test(r.toLowerCase())) {
            throw new Error(`MessageSent ${event.id}: payload.recipientIds[${i}] must be an id`);
          }
          return r.toLowerCase();
        }),
      ),
    ].sort(); // id order: two messages to the same people never take group locks in opposite orders
    let last: Outcome | undefined;
    for (const recipient of recipients) {
      last = await notify(trx, { recipient, actor: sender, type: "MESSAGE", subjectId: conversationId, postId: null });
      outcomes.inc({ type: "MESSAGE", outcome: last });
    }
    return undefined;
  }

  const handler: EventHandler = {
    name: "notifications.inbox",
    schema: "notifications",
    topics: [TOPICS.relationship, TOPICS.post, TOPICS.conversation],
    async handle(event, trx) {
      const outcome =
        event.aggregate_type === "relationship"
          ? await onRelationship(event, trx)
          : event.aggregate_type === "conversation"
            ? await onConversation(event, trx)
            : await onPost(event, trx);
      if (outcome) outcomes.inc({ type: event.type, outcome });
    },
  };

  return { handler, notify, removeActor };
}
