/**
 * The notifications service's RPCs: the inbox as a skeleton (ids + cursors)
 * and by id in batches, the exact unread count, mark read, preferences and
 * the push-token registry. Every call acts for the user in the caller's
 * verified claims and only touches that user's rows.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { type Kysely, sql } from "kysely";
import type { NotificationService } from "../../gen/nova/notifications/v1/notifications_pb.ts";
import { decodeCursor, keysetPage, LIST, pageSize, SEQ } from "../../platform/paging.ts";
import { requireUser } from "../../platform/rpc/context.ts";
import { type Platform, validateDeviceId, validateIds, validatePlatform, validateToken } from "./validation.ts";

/** The columns the list names (as node-postgres reads them: bigint as text). */
type NotificationsTables = {
  "notifications.notifications": { id: string; user_id: string; seq: string };
};

export interface NotificationsDeps {
  db: { writer: Kysely<unknown>; reader: Kysely<unknown> };
  /** Devices kept per user; registering one more drops the least recently registered. */
  maxDevices: number;
}

interface Row {
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

interface PrefRow {
  follow: boolean;
  like: boolean;
  comment: boolean;
  mention: boolean;
  message: boolean;
}

const DEFAULT_PREFS: PrefRow = { follow: true, like: true, comment: true, mention: true, message: true };

async function unreadCount(db: Kysely<unknown>, user: string): Promise<number> {
  const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM notifications.notifications
    WHERE user_id = ${user}::uuid AND read_at IS NULL`.execute(db);
  return r.rows[0]?.n ?? 0;
}

async function preferences(db: Kysely<unknown>, user: string): Promise<PrefRow> {
  const r = await sql<PrefRow>`SELECT follow, "like", comment, mention, message FROM notifications.preferences
    WHERE user_id = ${user}::uuid`.execute(db);
  return r.rows[0] ?? DEFAULT_PREFS;
}

export function createNotificationService(deps: NotificationsDeps): ServiceImpl<typeof NotificationService> {
  const { writer, reader } = deps.db;

  return {
    async listNotifications(req) {
      const user = requireUser().userId;
      const limit = pageSize(req.limit, LIST);
      const before = decodeCursor(req.cursor, SEQ);
      const page = await keysetPage(
        reader
          .withTables<NotificationsTables>()
          .selectFrom("notifications.notifications as n")
          .select(["n.id", "n.seq"])
          .where("n.user_id", "=", user),
        { key: "n.seq", after: before, limit, position: (x) => x.seq },
      );
      return { notificationIds: page.rows.map((x) => x.id), cursors: page.cursors, nextCursor: page.nextCursor };
    },

    async getNotifications(req) {
      const user = requireUser().userId;
      const ids = validateIds(req.notificationIds, "notificationIds", true);
      if (ids.length === 0) return { notifications: [] };
      // From the primary: the subscription hydrates a notification the moment it commits.
      const r = await sql<Row>`SELECT n.id::text AS id, n.type, n.actor_ids::text[] AS actor_ids, n.actor_count,
          n.activity_count, n.subject_id, n.post_id::text AS post_id, n.read_at IS NOT NULL AS read,
          n.created_at, n.updated_at
        FROM unnest(${ids}::uuid[]) WITH ORDINALITY AS x(id, o)
        JOIN notifications.notifications n ON n.id = x.id AND n.user_id = ${user}::uuid
        ORDER BY x.o`.execute(writer);
      return {
        notifications: r.rows.map((n) => ({
          id: n.id,
          type: n.type,
          actorIds: n.actor_ids,
          actorCount: n.actor_count,
          activityCount: n.activity_count,
          subjectId: n.subject_id,
          postId: n.post_id ?? "",
          read: n.read,
          createdAt: n.created_at.toISOString(),
          updatedAt: n.updated_at.toISOString(),
        })),
      };
    },

    async getUnreadCount() {
      const user = requireUser().userId;
      return { unreadCount: await unreadCount(writer, user) };
    },

    async markRead(req) {
      const user = requireUser().userId;
      const ids = validateIds(req.notificationIds);
      return writer.transaction().execute(async (trx) => {
        const r = await sql`UPDATE notifications.notifications SET read_at = now()
          WHERE user_id = ${user}::uuid AND id = ANY(${ids}::uuid[]) AND read_at IS NULL`.execute(trx);
        return { marked: Number(r.numAffectedRows ?? 0), unreadCount: await unreadCount(trx, user) };
      });
    },

    async markAllRead() {
      const user = requireUser().userId;
      return writer.transaction().execute(async (trx) => {
        const r = await sql`UPDATE notifications.notifications SET read_at = now()
          WHERE user_id = ${user}::uuid AND read_at IS NULL`.execute(trx);
        return { marked: Number(r.numAffectedRows ?? 0), unreadCount: await unreadCount(trx, user) };
      });
    },

    async getPreferences() {
      const user = requireUser().userId;
      return { preferences: await preferences(writer, user) };
    },

    async updatePreferences(req) {
      const user = requireUser().userId;
      const given = {
        follow: req.follow,
        like: req.like,
        comment: req.comment,
        mention: req.mention,
        message: req.message,
      };
      const r =
        await sql<PrefRow>`INSERT INTO notifications.preferences AS p (user_id, follow, "like", comment, mention, message)
        VALUES (${user}::uuid, ${given.follow ?? true}, ${given.like ?? true}, ${given.comment ?? true},
          ${given.mention ?? true}, ${given.message ?? true})
        ON CONFLICT (user_id) DO UPDATE SET
          follow = coalesce(${given.follow ?? null}::boolean, p.follow),
          "like" = coalesce(${given.like ?? null}::boolean, p."like"),
          comment = coalesce(${given.comment ?? null}::boolean, p.comment),
          mention = coalesce(${given.mention ?? null}::boolean, p.mention),
          message = coalesce(${given.message ?? null}::boolean, p.message),
          updated_at = now()
        RETURNING follow, "like", comment, mention, message`.execute(writer);
      return { preferences: r.rows[0] ?? DEFAULT_PREFS };
    },

    async registerPushToken(req) {
      const user = requireUser().userId;
      const platform: Platform = validatePlatform(req.platform);
      const token = validateToken(platform, req.token);
      const deviceId = validateDeviceId(req.deviceId);
      const device = await writer.transaction().execute(async (trx) => {
        // One registration of a user at a time (device limit), and the token leaves any other device.
        await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`notifications:push:${user}`}, 0))`.execute(trx);
        await sql`DELETE FROM notifications.push_tokens WHERE token = ${token}
          AND NOT (user_id = ${user}::uuid AND device_id = ${deviceId})`.execute(trx);
        const r = await sql<{ device_id: string; platform: string; created_at: Date; updated_at: Date }>`
          INSERT INTO notifications.push_tokens AS t (user_id, device_id, platform, token)
          VALUES (${user}::uuid, ${deviceId}, ${platform}, ${token})
          ON CONFLICT (user_id, device_id) DO UPDATE SET platform = excluded.platform, token = excluded.token,
            updated_at = now()
          RETURNING device_id, platform, created_at, updated_at`.execute(trx);
        await sql`DELETE FROM notifications.push_tokens WHERE user_id = ${user}::uuid AND device_id IN (
            SELECT device_id FROM notifications.push_tokens WHERE user_id = ${user}::uuid
            ORDER BY updated_at DESC, device_id OFFSET ${deps.maxDevices})`.execute(trx);
        return r.rows[0];
      });
      if (!device) throw new Error("push token upsert returned nothing");
      return {
        device: {
          deviceId: device.device_id,
          platform: device.platform,
          createdAt: device.created_at.toISOString(),
          updatedAt: device.updated_at.toISOString(),
        },
      };
    },

    async unregisterPushToken(req) {
      const user = requireUser().userId;
      const deviceId = validateDeviceId(req.deviceId);
      const r = await sql`DELETE FROM notifications.push_tokens
        WHERE user_id = ${user}::uuid AND device_id = ${deviceId}`.execute(writer);
      return { removed: Number(r.numAffectedRows ?? 0) > 0 };
    },
  };
}
