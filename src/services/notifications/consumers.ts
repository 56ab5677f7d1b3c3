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
 * Every payload is read with its writer's declaration (graph/, content/, messaging/ and this
 * service's events.ts): only the fields a rule uses, typed by the writer's schema, ids lower-cased.
 * A payload that does not match throws, naming the field (so the event goes to the DLQ after its
 * attempts); an event type not read here is left alone.
 */
import type { Transaction } from "kysely";
import type { Logger } from "pino";
import type { EventHandler } from "../../platform/events/consumer.ts";
import type { Envelope } from "../../platform/events/envelope.ts";
import type { NewEvent, Outbox } from "../../platform/events/outbox.ts";
import { counter } from "../../platform/observability/metrics.ts";
import { POST_EVENTS } from "../content/events.ts";
import { GRAPH_EVENTS } from "../graph/events.ts";
import { MESSAGING } from "../messaging/events.ts";
import { MODERATION_EVENTS } from "../moderation/events.ts";
import { NOTIFICATION_EVENTS, NOTIFICATION_TOPIC, notificationCreated } from "./events.ts";
import { type PushResult, type PushSenders, pushAttempts } from "./push.ts";
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
  relationship: GRAPH_EVENTS.topic,
  post: POST_EVENTS.topic,
  conversation: MESSAGING.topic,
  moderation: MODERATION_EVENTS.topic,
  notification: NOTIFICATION_TOPIC,
} as const;

/**
 * The actor of the moderation service's notifications (MODERATION, REPORT_ACTIONED, REPORT_DISMISSED):
 * moderators stay anonymous to the people they act on and to reporters, so no person is named.
 */
export const MODERATION_ACTOR = "00000000-0000-0000-0000-000000000000";

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
const REPEATABLE: ReadonlySet<NotificationType> = new Set(["COMMENT", "MENTION", "MESSAGE", "REPLY"]);

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
    topics: [TOPICS.relationship, TOPICS.post, TOPICS.conversation, TOPICS.moderation],
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

// ---- What the inbox reads of the other services' events: the fields it uses, as their writers declare them.

const PAIR = { userId: true, targetId: true } as const;
/**
 * graph's Followed (userId followed targetId, who is notified), FollowRequested (userId asked to
 * follow targetId's private account: targetId is told) and FollowRequestApproved (targetId approved
 * userId's request: userId is told, targetId the actor).
 */
const followOf = GRAPH_EVENTS.reader({ Followed: PAIR, FollowRequested: PAIR, FollowRequestApproved: PAIR });
/** graph's Blocked, Unblocked, Muted and Unmuted: userId acts on targetId. */
const ruleOf = GRAPH_EVENTS.reader({ Blocked: PAIR, Unblocked: PAIR, Muted: PAIR, Unmuted: PAIR });
/**
 * content's PostLiked (userId liked authorId's post), CommentCreated (authorId commented on
 * postAuthorId's post, maybe replying to parentAuthorId, maybe mentioning mentionIds), CommentLiked
 * (userId liked authorId's comment) and Mentioned (authorId mentioned mentionedId in the post).
 */
const postActivityOf = POST_EVENTS.reader({
  PostLiked: { postId: true, authorId: true, userId: true },
  CommentCreated: {
    postId: true,
    commentId: true,
    postAuthorId: true,
    authorId: true,
    parentId: true,
    parentAuthorId: true,
    mentionIds: true,
  },
  CommentLiked: { postId: true, commentId: true, authorId: true, userId: true },
  Mentioned: { postId: true, mentionedId: true, authorId: true },
});
/** content's PostDeleted and PostPurged: the post that is gone. */
const postGoneOf = POST_EVENTS.reader({ PostDeleted: { postId: true }, PostPurged: { postId: true } });
/** moderation's actions on userId's account or content, and the reports they closed. */
const OWN = { actionId: true, userId: true } as const;
const moderationOf = MODERATION_EVENTS.reader({
  AccountWarned: OWN,
  AccountSuspended: OWN,
  AccountBanned: OWN,
  AccountReinstated: OWN,
  ContentRemoved: OWN,
  ContentMarkedSensitive: OWN,
  ReportsResolved: { actionId: true, outcome: true, reporterIds: true },
});

/** messaging's MessageSent: senderId wrote to recipientIds in conversationId. */
const messageOf = MESSAGING.reader({ MessageSent: { conversationId: true, senderId: true, recipientIds: true } });

/**
 * A comment tells the post's author (COMMENT), the author of the comment it answers (REPLY, instead of
 * COMMENT when that is the post's author too) and each user it mentions who was not told already
 * (MENTION, its subject the comment). The commenter is never told (notifyAll drops "self").
 */
function commentActivities(p: {
  postId: string;
  commentId: string;
  authorId: string;
  postAuthorId: string;
  parentId: string | null;
  parentAuthorId: string | null;
  mentionIds: string[];
}): Activity[] {
  const out: Activity[] = [];
  const told = new Set<string>();
  const add = (type: NotificationType, recipient: string, subjectId: string) => {
    if (told.has(recipient)) return;
    told.add(recipient);
    out.push({ recipient, actor: p.authorId, type, subjectId, postId: p.postId });
  };
  // Grouped per comment answered: "alice and 2 others replied to your comment".
  if (p.parentId && p.parentAuthorId) add("REPLY", p.parentAuthorId, p.parentId);
  add("COMMENT", p.postAuthorId, p.postId);
  for (const id of p.mentionIds) add("MENTION", id, p.commentId);
  return out;
}

/**
 * The activities an event notifies about, in the order they are applied; undefined for the events
 * that change the rules or remove notifications instead (see applyRules).
 */
function activitiesOf(event: Envelope): Activity[] | undefined {
  switch (event.aggregate_type) {
    case GRAPH_EVENTS.aggregate: {
      const e = followOf(event);
      if (!e) return undefined;
      const { userId, targetId } = e.payload;
      if (e.type === "FollowRequestApproved") {
        return [{ recipient: userId, actor: targetId, type: "FOLLOW_REQUEST_APPROVED", subjectId: "", postId: null }];
      }
      const type = e.type === "Followed" ? "FOLLOW" : "FOLLOW_REQUEST";
      return [{ recipient: targetId, actor: userId, type, subjectId: "", postId: null }];
    }
    case POST_EVENTS.aggregate: {
      const e = postActivityOf(event);
      if (!e) return undefined;
      const { postId } = e.payload;
      const on = (type: NotificationType, recipient: string, actor: string): Activity[] => [
        { recipient, actor, type, subjectId: postId, postId },
      ];
      if (e.type === "PostLiked") return on("LIKE", e.payload.authorId, e.payload.userId);
      if (e.type === "CommentCreated") return commentActivities(e.payload);
      if (e.type === "CommentLiked") {
        const { authorId, userId, commentId } = e.payload;
        return [{ recipient: authorId, actor: userId, type: "COMMENT_LIKE", subjectId: commentId, postId }];
      }
      return on("MENTION", e.payload.mentionedId, e.payload.authorId);
    }
    case MESSAGING.aggregate: {
      const p = messageOf(event)?.payload;
      if (!p) return undefined;
      // One activity per distinct recipient, in id order: two messages to the same people never
      // take group locks in opposite orders.
      return [...new Set(p.recipientIds)].sort().map((recipient) => ({
        recipient,
        actor: p.senderId,
        type: "MESSAGE" as const,
        subjectId: p.conversationId,
        postId: null,
      }));
    }
    case MODERATION_EVENTS.aggregate: {
      const e = moderationOf(event);
      if (!e) return undefined;
      const told = (recipient: string, type: NotificationType): Activity => ({
        recipient,
        actor: MODERATION_ACTOR,
        type,
        subjectId: e.payload.actionId,
        postId: null,
      });
      // The account's owner learns of every action on it; each reporter of the outcome of their report.
      if (e.type !== "ReportsResolved") return [told(e.payload.userId, "MODERATION")];
      const type = e.payload.outcome === "dismissed" ? "REPORT_DISMISSED" : "REPORT_ACTIONED";
      return [...new Set(e.payload.reporterIds)].sort().map((r) => told(r, type));
    }
    default:
      return undefined;
  }
}

/** Blocks, mutes and their undoing change the rules; a deleted post takes its notifications along. */
async function applyRules(event: Envelope, trx: Transaction<unknown>): Promise<void> {
  if (event.aggregate_type === GRAPH_EVENTS.aggregate) {
    const e = ruleOf(event);
    if (!e) return;
    const { userId: user, targetId: target } = e.payload;
    switch (e.type) {
      case "Blocked":
        await hide(trx, user, target, "block");
        await hide(trx, target, user, "block");
        await removeActor(trx, user, target);
        await removeActor(trx, target, user);
        return;
      case "Unblocked":
        await unhide(trx, user, target, "block");
        await unhide(trx, target, user, "block");
        return;
      case "Muted":
        await hide(trx, user, target, "mute");
        return;
      case "Unmuted":
        await unhide(trx, user, target, "mute");
        return;
    }
  }
  const gone = event.aggregate_type === POST_EVENTS.aggregate ? postGoneOf(event) : undefined;
  // Notifications about a post that is gone go with it (and leave the unread count).
  if (gone) await deletePostNotifications(trx, gone.payload.postId);
}

// ---- notifications.push

/** What a push needs of this service's own NotificationCreated. */
const announcedOf = NOTIFICATION_EVENTS.reader({
  NotificationCreated: { userId: true, notificationId: true, type: true, actorCount: true },
});
type Announced = NonNullable<ReturnType<typeof announcedOf>>["payload"];

export function pushConsumer(deps: { senders: PushSenders; log: Logger }): EventHandler {
  /** The recipients' devices and unread counts in one query, then one push per device and event, in order. */
  async function apply(events: Envelope[], trx: Transaction<unknown>) {
    const list = events.flatMap((e) => announcedOf(e)?.payload ?? []);
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
async function pushOne(deps: { senders: PushSenders; log: Logger }, d: PushDevice, n: Announced): Promise<PushResult> {
  const sender = deps.senders[d.platform];
  let result: PushResult;
  try {
    result = await sender.send({
      platform: d.platform,
      token: d.token,
      deviceId: d.device_id,
      userId: n.userId,
      notificationId: n.notificationId,
      type: n.type,
      actorCount: n.actorCount,
      collapseKey: n.notificationId,
      badge: d.badge,
      keys: d.p256dh && d.auth ? { p256dh: d.p256dh, auth: d.auth } : undefined,
    });
  } catch (err) {
    deps.log.warn({ err, deviceId: d.device_id, platform: d.platform }, "push failed");
    result = "failed";
  }
  pushAttempts.inc({ platform: d.platform, sender: sender.name, result });
  return result;
}
