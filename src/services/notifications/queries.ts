/**
 * The notifications service's SQL over its tables (schema `notifications`, migrations/): the inbox's
 * reads and writes for the RPCs, and the consumers' (the grouping function apply_activities, the
 * blocks-and-mutes projection, the push tokens).
 */
import { type Kysely, sql, type Transaction } from "kysely";
import { keysetPage, type Page } from "../../platform/paging.ts";
import { uuidv7 } from "../../platform/validate.ts";
import type { NotificationType, Platform } from "./validation.ts";

/** The tables, as node-postgres reads them (bigint as text). */
export type NotificationsTables = {
  "notifications.notifications": {
    id: string;
    user_id: string;
    type: NotificationType;
    /** The post or conversation ('' for FOLLOW); group_key = type:subject_id. */
    subject_id: string;
    post_id: string | null;
    group_key: string;
    /** The most recent actors first (at most 3). */
    actor_ids: string[];
    actor_count: number;
    activity_count: number;
    seq: string;
    created_at: Date;
    updated_at: Date;
    read_at: Date | null;
  };
  "notifications.notification_actors": { notification_id: string; actor_id: string; user_id: string; acted_at: Date };
  "notifications.hidden": { user_id: string; actor_id: string; reason: "mute" | "block" };
  "notifications.preferences": {
    user_id: string;
    follow: boolean;
    like: boolean;
    comment: boolean;
    mention: boolean;
    message: boolean;
    reply: boolean;
    comment_like: boolean;
    follow_request: boolean;
    follow_request_approved: boolean;
    updated_at: Date;
  };
  "notifications.push_tokens": {
    user_id: string;
    device_id: string;
    platform: Platform;
    token: string;
    p256dh: string | null;
    auth: string | null;
    created_at: Date;
    updated_at: Date;
  };
};

type Db = Kysely<unknown> | Transaction<unknown>;

/** A notification as GetNotifications reads it. */
export interface NotificationRow {
  id: string;
  type: string;
  actor_ids: string[];
  actor_count: number;
  activity_count: number;
  subject_id: string;
  post_id: string | null;
  read: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface PrefRow {
  follow: boolean;
  like: boolean;
  comment: boolean;
  mention: boolean;
  message: boolean;
  reply: boolean;
  commentLike: boolean;
  followRequest: boolean;
  followRequestApproved: boolean;
}

export const DEFAULT_PREFS: PrefRow = {
  follow: true,
  like: true,
  comment: true,
  mention: true,
  message: true,
  reply: true,
  commentLike: true,
  followRequest: true,
  followRequestApproved: true,
};

const PREF_COLUMNS = sql`follow, "like", comment, mention, message, reply, comment_like AS "commentLike",
  follow_request AS "followRequest", follow_request_approved AS "followRequestApproved"`;

// ---- The RPCs'.

/** A page of the user's notifications, most recently active first (by seq), after the position `before`. */
export function listPage(
  db: Kysely<unknown>,
  user: string,
  before: string | undefined,
  limit: number,
): Promise<Page<{ id: string; seq: string }>> {
  return keysetPage(
    db
      .withTables<NotificationsTables>()
      .selectFrom("notifications.notifications as n")
      .select(["n.id", "n.seq"])
      .where("n.user_id", "=", user),
    { key: "n.seq", after: before, limit, position: (x) => x.seq },
  );
}

/** The user's notifications among `ids`, in the order of `ids`. */
export async function notificationsByIds(db: Db, user: string, ids: string[]): Promise<NotificationRow[]> {
  const r = await sql<NotificationRow>`SELECT n.id::text AS id, n.type, n.actor_ids::text[] AS actor_ids, n.actor_count,
      n.activity_count, n.subject_id, n.post_id::text AS post_id, n.read_at IS NOT NULL AS read,
      n.created_at, n.updated_at
    FROM unnest(${ids}::uuid[]) WITH ORDINALITY AS x(id, o)
    JOIN notifications.notifications n ON n.id = x.id AND n.user_id = ${user}::uuid
    ORDER BY x.o`.execute(db);
  return r.rows;
}

export async function unreadCount(db: Db, user: string): Promise<number> {
  const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM notifications.notifications
    WHERE user_id = ${user}::uuid AND read_at IS NULL`.execute(db);
  return r.rows[0]?.n ?? 0;
}

/** Marks the user's unread notifications among `ids` (all of them when `ids` is undefined) read; returns how many. */
export async function markReadRows(db: Db, user: string, ids: string[] | undefined): Promise<number> {
  const r =
    ids === undefined
      ? await sql`UPDATE notifications.notifications SET read_at = now()
          WHERE user_id = ${user}::uuid AND read_at IS NULL`.execute(db)
      : await sql`UPDATE notifications.notifications SET read_at = now()
          WHERE user_id = ${user}::uuid AND id = ANY(${ids}::uuid[]) AND read_at IS NULL`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

export async function preferences(db: Db, user: string): Promise<PrefRow> {
  const r = await sql<PrefRow>`SELECT ${PREF_COLUMNS} FROM notifications.preferences
    WHERE user_id = ${user}::uuid`.execute(db);
  return r.rows[0] ?? DEFAULT_PREFS;
}

/** Sets the preferences given (undefined: unchanged, or on for a new row); returns them all. */
export async function upsertPreferences(db: Db, user: string, given: Partial<PrefRow>): Promise<PrefRow> {
  const r = await sql<PrefRow>`INSERT INTO notifications.preferences AS p
      (user_id, follow, "like", comment, mention, message, reply, comment_like, follow_request, follow_request_approved)
    VALUES (${user}::uuid, ${given.follow ?? true}, ${given.like ?? true}, ${given.comment ?? true},
      ${given.mention ?? true}, ${given.message ?? true}, ${given.reply ?? true}, ${given.commentLike ?? true},
      ${given.followRequest ?? true}, ${given.followRequestApproved ?? true})
    ON CONFLICT (user_id) DO UPDATE SET
      follow = coalesce(${given.follow ?? null}::boolean, p.follow),
      "like" = coalesce(${given.like ?? null}::boolean, p."like"),
      comment = coalesce(${given.comment ?? null}::boolean, p.comment),
      mention = coalesce(${given.mention ?? null}::boolean, p.mention),
      message = coalesce(${given.message ?? null}::boolean, p.message),
      reply = coalesce(${given.reply ?? null}::boolean, p.reply),
      comment_like = coalesce(${given.commentLike ?? null}::boolean, p.comment_like),
      follow_request = coalesce(${given.followRequest ?? null}::boolean, p.follow_request),
      follow_request_approved = coalesce(${given.followRequestApproved ?? null}::boolean, p.follow_request_approved),
      updated_at = now()
    RETURNING ${PREF_COLUMNS}`.execute(db);
  return r.rows[0] ?? DEFAULT_PREFS;
}

export interface DeviceRow {
  device_id: string;
  platform: string;
  created_at: Date;
  updated_at: Date;
}

/**
 * Registers the user's device token: one registration of a user at a time (the device limit), the
 * token leaves any other device, and beyond `maxDevices` the least recently registered go.
 */
export async function registerToken(
  trx: Transaction<unknown>,
  a: {
    user: string;
    deviceId: string;
    platform: Platform;
    token: string;
    maxDevices: number;
    /** WEB: the subscription's keys. */
    keys?: { p256dh: string; auth: string };
  },
): Promise<DeviceRow | undefined> {
  const { user, deviceId, platform, token } = a;
  const [p256dh, auth] = [a.keys?.p256dh ?? null, a.keys?.auth ?? null];
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`notifications:push:${user}`}, 0))`.execute(trx);
  await sql`DELETE FROM notifications.push_tokens WHERE token = ${token}
    AND NOT (user_id = ${user}::uuid AND device_id = ${deviceId})`.execute(trx);
  const r = await sql<DeviceRow>`
    INSERT INTO notifications.push_tokens AS t (user_id, device_id, platform, token, p256dh, auth)
    VALUES (${user}::uuid, ${deviceId}, ${platform}, ${token}, ${p256dh}, ${auth})
    ON CONFLICT (user_id, device_id) DO UPDATE SET platform = excluded.platform, token = excluded.token,
      p256dh = excluded.p256dh, auth = excluded.auth, updated_at = now()
    RETURNING device_id, platform, created_at, updated_at`.execute(trx);
  await sql`DELETE FROM notifications.push_tokens WHERE user_id = ${user}::uuid AND device_id IN (
      SELECT device_id FROM notifications.push_tokens WHERE user_id = ${user}::uuid
      ORDER BY updated_at DESC, device_id OFFSET ${a.maxDevices})`.execute(trx);
  return r.rows[0];
}

/** Removes the user's device; true when there was one. */
export async function unregisterToken(db: Db, user: string, deviceId: string): Promise<boolean> {
  const r = await sql`DELETE FROM notifications.push_tokens
    WHERE user_id = ${user}::uuid AND device_id = ${deviceId}`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

// ---- The consumers'.

/** One activity for apply_activities. */
export interface ActivityRow {
  recipient: string;
  actor: string;
  type: NotificationType;
  subjectId: string;
  postId: string | null;
  /** Repeated activity of an actor already in the group counts. */
  repeatable: boolean;
}

export type Outcome = "created" | "grouped" | "repeated" | "duplicate_actor" | "self" | "hidden" | "disabled";

/** What apply_activities did with the n-th (1-based) activity; the o_ columns are set when a notification changed. */
export interface AppliedRow {
  n: number;
  o_outcome: Outcome;
  o_id: string | null;
  o_actor_ids: string[] | null;
  o_actor_count: number | null;
  o_activity_count: number | null;
  o_created_at: Date | null;
  o_updated_at: Date | null;
}

/**
 * Applies activities in order in one round trip (`notifications.apply_activities`, migration 0002: the
 * rules and the group's lock, then the open group gains the actor or a notification is created).
 */
export async function applyActivities(
  trx: Transaction<unknown>,
  activities: ActivityRow[],
  groupWindowMs: number,
): Promise<AppliedRow[]> {
  const col = <T>(f: (a: ActivityRow) => T) => activities.map(f);
  const rows = await sql<AppliedRow>`SELECT n, o_outcome, o_id::text AS o_id, o_actor_ids::text[] AS o_actor_ids,
      o_actor_count, o_activity_count, o_created_at, o_updated_at
    FROM notifications.apply_activities(${activities.map(() => uuidv7())}::uuid[], ${col((a) => a.recipient)}::uuid[],
      ${col((a) => a.actor)}::uuid[], ${col((a) => a.type)}::text[], ${col((a) => a.subjectId)}::text[],
      ${col((a) => a.postId)}::uuid[], ${col((a) => a.repeatable)}::boolean[],
      make_interval(secs => ${groupWindowMs / 1000}))`.execute(trx);
  return rows.rows;
}

/**
 * Takes `actor`'s contributions out of `recipient`'s notifications (after a
 * block): their actor rows go, each touched group is recounted, and a group
 * left without actors is deleted.
 */
export async function removeActor(trx: Transaction<unknown>, recipient: string, actor: string): Promise<void> {
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

export async function hide(trx: Transaction<unknown>, user: string, actor: string, reason: "block" | "mute") {
  await sql`INSERT INTO notifications.hidden (user_id, actor_id, reason)
    VALUES (${user}::uuid, ${actor}::uuid, ${reason}) ON CONFLICT DO NOTHING`.execute(trx);
}

export async function unhide(trx: Transaction<unknown>, user: string, actor: string, reason: "block" | "mute") {
  await sql`DELETE FROM notifications.hidden
    WHERE user_id = ${user}::uuid AND actor_id = ${actor}::uuid AND reason = ${reason}`.execute(trx);
}

/** Notifications about a post that is gone go with it (and leave the unread count). */
export async function deletePostNotifications(trx: Transaction<unknown>, postId: string): Promise<void> {
  await sql`DELETE FROM notifications.notifications WHERE post_id = ${postId}::uuid`.execute(trx);
}

export interface PushDevice {
  user_id: string;
  device_id: string;
  platform: Platform;
  token: string;
  /** WEB: the subscription's keys (null otherwise). */
  p256dh: string | null;
  auth: string | null;
  /** The user's unread count. */
  badge: number;
}

/** The devices of `users` with each user's unread count, in one query. */
export async function pushDevices(trx: Transaction<unknown>, users: string[]): Promise<PushDevice[]> {
  const r = await sql<PushDevice>`
    SELECT t.user_id::text AS user_id, t.device_id, t.platform, t.token, t.p256dh, t.auth,
      (SELECT count(*)::int FROM notifications.notifications
        WHERE user_id = t.user_id AND read_at IS NULL) AS badge
    FROM notifications.push_tokens t WHERE t.user_id = ANY(${users}::uuid[])
    ORDER BY t.user_id, t.device_id`.execute(trx);
  return r.rows;
}

export async function deleteToken(trx: Transaction<unknown>, token: string): Promise<void> {
  await sql`DELETE FROM notifications.push_tokens WHERE token = ${token}`.execute(trx);
}

// ---- account erasure (identity's AccountErased)

/**
 * Deletes what notifications hold of an erased user: their own notifications, push subscriptions,
 * preferences and hidden pairs; in others' notifications they stop being an actor (the group's
 * actors and counts as if they never acted), and a notification left with no actor goes. Idempotent.
 */
export async function eraseRecipientAndActor(trx: Transaction<unknown>, userId: string): Promise<void> {
  await sql`DELETE FROM notifications.notifications WHERE user_id = ${userId}::uuid`.execute(trx);
  const touched = await sql<{ id: string }>`DELETE FROM notifications.notification_actors
    WHERE actor_id = ${userId}::uuid RETURNING notification_id::text AS id`.execute(trx);
  const ids = [...new Set(touched.rows.map((r) => r.id))];
  // Also those that name them without a row in notification_actors (actor_ids is their denormalised copy).
  const named = await sql<{ id: string }>`SELECT id::text AS id FROM notifications.notifications
    WHERE ${userId}::uuid = ANY(actor_ids) OR subject_id = ${userId}`.execute(trx);
  for (const r of named.rows) if (!ids.includes(r.id)) ids.push(r.id);
  if (ids.length) {
    await sql`UPDATE notifications.notifications n SET
        actor_ids = ARRAY(SELECT a.actor_id FROM notifications.notification_actors a
          WHERE a.notification_id = n.id ORDER BY a.acted_at DESC, a.actor_id LIMIT 3),
        actor_count = GREATEST(1, (SELECT count(*) FROM notifications.notification_actors a WHERE a.notification_id = n.id)),
        activity_count = GREATEST(1, n.activity_count - 1)
      WHERE n.id = ANY(${ids}::uuid[])`.execute(trx);
    await sql`DELETE FROM notifications.notifications n WHERE n.id = ANY(${ids}::uuid[])
      AND (n.subject_id = ${userId} OR NOT EXISTS (SELECT 1 FROM notifications.notification_actors a
        WHERE a.notification_id = n.id))`.execute(trx);
  }
  await sql`DELETE FROM notifications.notification_actors WHERE user_id = ${userId}::uuid`.execute(trx);
  await sql`DELETE FROM notifications.hidden WHERE user_id = ${userId}::uuid OR actor_id = ${userId}::uuid`.execute(
    trx,
  );
  await sql`DELETE FROM notifications.preferences WHERE user_id = ${userId}::uuid`.execute(trx);
  await sql`DELETE FROM notifications.push_tokens WHERE user_id = ${userId}::uuid`.execute(trx);
}
