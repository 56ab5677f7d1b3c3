/**
 * The notifications service's consumers.
 *
 * `notifications.inbox` turns the graph's, content's and messaging's events
 * into grouped notifications, and keeps the small projection of blocks and
 * mutes the rules need. One handler reads all three topics, so in the embedded
 * log a block and a later like arrive in commit order; on Kafka (no order
 * across topics) a block also removes the blocked user's earlier
 * contributions, so a like that raced the block is taken back.
 *
 * Grouping (as Mastodon's grouped notifications): likes of one post, follows,
 * comments on one post, mentions in one post and messages of one conversation
 * form one notification while it is unread and younger than the window. Every
 * change of a group runs under a transaction lock on (recipient, group key),
 * so concurrent events for one group never create two groups or lose an
 * actor; the processed_events row the consumer commits with the effect makes
 * a redelivered event a no-op. A NotificationCreated event (events.ts) is
 * written through the outbox in the same transaction whenever a notification
 * is created or a group gains an actor (or a comment, mention or message of
 * an actor already in it), and only when the recipient's preferences allow
 * the type.
 *
 * `notifications.push` reads the inbox's own NotificationCreated events, so a
 * push is only ever sent for a notification that committed, retried with
 * backoff and parked in the DLQ like any event, and scaled apart from the
 * inbox. Each of the recipient's device tokens gets one attempt per event
 * through a PushSender (push.ts); a token the provider reports as no longer
 * valid is removed.
 *
 * The other services' payloads are read by hand, one small function per event type (at the end),
 * until those services declare their events; each then becomes the declared type's parse.
 */
import type { Transaction } from "kysely";
import type { Logger } from "pino";
import type { EventHandler } from "../../platform/events/consumer.ts";
import { type Envelope, topicOf } from "../../platform/events/envelope.ts";
import type { NewEvent, Outbox } from "../../platform/events/outbox.ts";
import { counter } from "../../platform/observability/metrics.ts";
import { isUuid } from "../../platform/validate.ts";
import { NOTIFICATION_TOPIC, notificationCreated, notificationCreatedOf } from "./events.ts";
import { type PushResult, type PushSender, pushAttempts } from "./push.ts";
import {
  type AppliedRow,
  applyActivities,
  deletePostNotifications,
  deleteToken,
  hide,
  type Outcome,
  type PushDevice,
  pushDevices,
  removeActor,
  unhide,
} from "./queries.ts";
import type { NotificationType } from "./validation.ts";

export const TOPICS = {
  relationship: topicOf("graph", "relationship"),
  post: topicOf("content", "post"),
  conversation: topicOf("messaging", "conversation"),
  notification: NOTIFICATION_TOPIC,
} as const;

export interface InboxOptions {
  /** A group gains actors while unread and younger than this. */
  groupWindowMs: number;
}

export interface Activity {
  recipient: string;
  actor: string;
  type: NotificationType;
  /** The post or conversation ("" for FOLLOW). */
  subjectId: string;
  postId: string | null;
}

/** Repeated activity of an actor already in a group counts for these types (a second like does not). */
const REPEATABLE: ReadonlySet<NotificationType> = new Set(["COMMENT", "MENTION", "MESSAGE"]);

const outcomes = counter("nova_notifications_events_total", "Activity the inbox consumer saw, by type and outcome", [
  "type",
  "outcome",
]);

// ---- notifications.inbox

export function createInbox(deps: { outbox: Outbox; options: InboxOptions }) {
  const notify = (trx: Transaction<unknown>, activities: Activity[]) =>
    notifyAll(trx, activities, deps.outbox, deps.options);
  const handler: EventHandler = {
    name: "notifications.inbox",
    schema: "notifications",
    topics: [TOPICS.relationship, TOPICS.post, TOPICS.conversation],
    async handle(event, trx) {
      const activities = activitiesOf(event);
      if (!activities) return applyRules(event, trx);
      await flush(
        trx,
        activities.map((activity) => ({ label: label(event), activity })),
        notify,
      );
    },
    async handleBatch(events, trx) {
      const pending: Pending[] = [];
      for (const event of events) {
        const activities = activitiesOf(event);
        if (activities) {
          for (const activity of activities) pending.push({ label: label(event), activity });
          continue;
        }
        await flush(trx, pending, notify);
        await applyRules(event, trx);
      }
      await flush(trx, pending, notify);
    },
  };
  return { handler };
}

type Pending = { label: string; activity: Activity };
type Notify = (trx: Transaction<unknown>, activities: Activity[]) => Promise<Outcome[]>;

const label = (event: Envelope) => (event.type === "MessageSent" ? "MESSAGE" : event.type);

/** Applies the activities of consecutive events at once (one round trip), counting each outcome. */
async function flush(trx: Transaction<unknown>, pending: Pending[], notify: Notify) {
  if (pending.length === 0) return;
  const done = await notify(
    trx,
    pending.map((x) => x.activity),
  );
  for (const [i, outcome] of done.entries()) outcomes.inc({ type: (pending[i] as Pending).label, outcome });
  pending.length = 0;
}

/**
 * Applies activities to their recipients' inboxes inside `trx`, in order, in one round trip
 * (queries.applyActivities), and writes one NotificationCreated per notification created or
 * changed through the outbox.
 */
async function notifyAll(
  trx: Transaction<unknown>,
  activities: Activity[],
  outbox: Outbox,
  options: InboxOptions,
): Promise<Outcome[]> {
  const out: Outcome[] = activities.map((a) => (a.actor === a.recipient ? "self" : "duplicate_actor"));
  const todo = activities.flatMap((a, i) => (a.actor === a.recipient ? [] : [{ a, i }]));
  if (todo.length === 0) return out;
  const rows = await applyActivities(
    trx,
    todo.map(({ a }) => ({ ...a, repeatable: REPEATABLE.has(a.type) })),
    options.groupWindowMs,
  );
  const events: NewEvent[] = [];
  for (const r of rows) {
    const { a, i } = todo[r.n - 1] as { a: Activity; i: number };
    out[i] = r.o_outcome;
    const event = announcement(a, r);
    if (event) events.push(event);
  }
  for (let e = 0; e < events.length; e += 1_000) await outbox.emit(trx, ...events.slice(e, e + 1_000));
  return out;
}

/** The NotificationCreated of an activity that created or changed a notification (none otherwise). */
function announcement(a: Activity, r: AppliedRow): NewEvent | undefined {
  if (!r.o_id || !r.o_actor_ids || !r.o_created_at || !r.o_updated_at) return undefined;
  return notificationCreated(
    {
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
    },
    a.actor,
  );
}

/**
 * The activities an event notifies about, in the order they are applied; undefined for the events
 * that change the rules or remove notifications instead (see applyRules).
 */
function activitiesOf(event: Envelope): Activity[] | undefined {
  switch (event.type) {
    case "Followed":
      if (event.aggregate_type !== "relationship") return undefined;
      return [followed(event)];
    case "PostLiked":
      if (event.aggregate_type !== "post") return undefined;
      return [postLiked(event)];
    case "CommentCreated":
      if (event.aggregate_type !== "post") return undefined;
      return [commentCreated(event)];
    case "Mentioned":
      if (event.aggregate_type !== "post") return undefined;
      return [mentioned(event)];
    case "MessageSent":
      if (event.aggregate_type !== "conversation") return undefined;
      return messageSent(event);
    default:
      return undefined;
  }
}

/** Blocks, mutes and their undoing change the rules; a deleted post takes its notifications along. */
async function applyRules(event: Envelope, trx: Transaction<unknown>): Promise<void> {
  if (event.aggregate_type === "relationship") {
    switch (event.type) {
      case "Blocked": {
        const { user, target } = relationship(event);
        await hide(trx, user, target, "block");
        await hide(trx, target, user, "block");
        await removeActor(trx, user, target);
        await removeActor(trx, target, user);
        return;
      }
      case "Unblocked": {
        const { user, target } = relationship(event);
        await unhide(trx, user, target, "block");
        await unhide(trx, target, user, "block");
        return;
      }
      case "Muted": {
        const { user, target } = relationship(event);
        await hide(trx, user, target, "mute");
        return;
      }
      case "Unmuted": {
        const { user, target } = relationship(event);
        await unhide(trx, user, target, "mute");
        return;
      }
    }
  }
  if (event.aggregate_type === "post" && (event.type === "PostDeleted" || event.type === "PostPurged")) {
    // Notifications about a post that is gone go with it (and leave the unread count).
    await deletePostNotifications(trx, postGone(event));
  }
}

// ---- notifications.push

export function pushConsumer(deps: { sender: PushSender; log: Logger }): EventHandler {
  /** The recipients' devices and unread counts in one query, then one push per device and event, in order. */
  async function apply(events: Envelope[], trx: Transaction<unknown>) {
    const list = events.filter((e) => e.type === "NotificationCreated").map((e) => notificationCreatedOf(e.payload));
    if (list.length === 0) return;
    const devices = await pushDevices(trx, [...new Set(list.map((n) => n.userId))]);
    const gone = new Set<string>();
    for (const n of list) {
      for (const d of devices) {
        if (d.user_id !== n.userId.toLowerCase() || gone.has(d.token)) continue;
        const result = await pushOne(deps, d, n);
        if (result === "invalid_token") {
          gone.add(d.token);
          await deleteToken(trx, d.token);
        }
      }
    }
  }
  return {
    name: "notifications.push",
    schema: "notifications",
    topics: [TOPICS.notification],
    handle: (event, trx) => apply([event], trx),
    handleBatch: apply,
  };
}

/** One attempt to push a notification to one device; a sender that throws counts as failed. */
async function pushOne(
  deps: { sender: PushSender; log: Logger },
  d: PushDevice,
  n: ReturnType<typeof notificationCreatedOf>,
): Promise<PushResult> {
  let result: PushResult;
  try {
    result = await deps.sender.send({
      platform: d.platform,
      token: d.token,
      deviceId: d.device_id,
      userId: n.userId,
      notificationId: n.notificationId,
      type: n.type,
      actorCount: n.actorCount,
      collapseKey: n.notificationId,
      badge: d.badge,
    });
  } catch (err) {
    deps.log.warn({ err, deviceId: d.device_id, platform: d.platform }, "push failed");
    result = "failed";
  }
  pushAttempts.inc({ platform: d.platform, sender: deps.sender.name, result });
  return result;
}

// ---- The other services' payloads, read by hand: one function per event type.

/** graph's Followed (nova.graph.relationship): userId followed targetId, who is notified. */
export function followed(event: Envelope): Activity {
  const p = event.payload;
  const recipient = id(p, "targetId", event);
  return { recipient, actor: id(p, "userId", event), type: "FOLLOW", subjectId: "", postId: null };
}

/** content's PostLiked (nova.content.post): userId liked authorId's post. */
export function postLiked(event: Envelope): Activity {
  return postActivity(event, "LIKE", "authorId", "userId");
}

/** content's CommentCreated (nova.content.post): authorId commented on postAuthorId's post. */
export function commentCreated(event: Envelope): Activity {
  return postActivity(event, "COMMENT", "postAuthorId", "authorId");
}

/** content's Mentioned (nova.content.post): authorId mentioned mentionedId in a post. */
export function mentioned(event: Envelope): Activity {
  return postActivity(event, "MENTION", "mentionedId", "authorId");
}

/** messaging's MessageSent (nova.messaging.conversation): one activity per distinct recipient, in id order. */
export function messageSent(event: Envelope): Activity[] {
  const p = event.payload;
  const conversationId = id(p, "conversationId", event);
  const sender = id(p, "senderId", event);
  if (!Array.isArray(p.recipientIds)) throw new Error(`MessageSent ${event.id}: payload.recipientIds must be a list`);
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

/** graph's Blocked, Unblocked, Muted and Unmuted (nova.graph.relationship): userId acts on targetId. */
export function relationship(event: Envelope): { user: string; target: string } {
  return { user: id(event.payload, "userId", event), target: id(event.payload, "targetId", event) };
}

/** content's PostDeleted and PostPurged (nova.content.post): the post that is gone. */
export function postGone(event: Envelope): string {
  return id(event.payload, "postId", event);
}

function postActivity(event: Envelope, type: NotificationType, recipient: string, actor: string): Activity {
  const p = event.payload;
  const postId = id(p, "postId", event);
  return { recipient: id(p, recipient, event), actor: id(p, actor, event), type, subjectId: postId, postId };
}

function id(p: Record<string, unknown>, name: string, event: Envelope): string {
  const v = p[name];
  if (typeof v !== "string" || !isUuid(v.toLowerCase())) {
    throw new Error(`${event.type} ${event.id}: payload.${name} must be an id`);
  }
  return v.toLowerCase();
}
