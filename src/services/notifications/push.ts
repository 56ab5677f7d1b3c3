/**
 * Push delivery. A second consumer (`notifications.push`) reads the inbox's
 * own NotificationCreated events, so a push is only ever sent for a
 * notification that committed, retried with backoff and parked in the DLQ
 * like any event, and scaled apart from the inbox. Each of the recipient's
 * device tokens gets one attempt per event through a PushSender; a token the
 * provider reports as no longer valid is removed.
 *
 * Real APNs / FCM delivery needs provider credentials (an APNs auth key, an FCM
 * service account), which Nova does not have: the shipped sender only logs.
 */
import { sql, type Transaction } from "kysely";
import type { Logger } from "pino";
import type { EventHandler } from "../../platform/events/consumer.ts";
import type { Envelope } from "../../platform/events/envelope.ts";
import { counter } from "../../platform/observability/metrics.ts";
import { type NotificationCreated, TOPICS } from "./inbox.ts";
import { type Platform, redactToken } from "./validation.ts";

export interface PushMessage {
  platform: Platform;
  token: string;
  deviceId: string;
  userId: string;
  notificationId: string;
  type: string;
  actorCount: number;
  /** Devices show one entry per notification: a grouped update replaces the earlier one (apns-collapse-id, FCM tag). */
  collapseKey: string;
  /** The recipient's unread count, for the app icon badge. */
  badge: number;
}

export type PushResult = "sent" | "invalid_token" | "failed";

/** A push provider. Implementations must never log a full token. */
export interface PushSender {
  readonly name: string;
  send(message: PushMessage): Promise<PushResult>;
}

/** The development sender: one pino line per push, the token redacted. */
export class LoggingPushSender implements PushSender {
  readonly name = "log";
  constructor(private readonly log: Logger) {}
  async send(m: PushMessage): Promise<PushResult> {
    this.log.info(
      {
        push: {
          platform: m.platform,
          token: redactToken(m.token),
          deviceId: m.deviceId,
          userId: m.userId,
          notificationId: m.notificationId,
          type: m.type,
          actorCount: m.actorCount,
          collapseKey: m.collapseKey,
          badge: m.badge,
        },
      },
      "push (logging sender: no provider credentials)",
    );
    return "sent";
  }
}

export const pushAttempts = counter(
  "nova_notifications_push_attempts_total",
  "Push delivery attempts, by platform, sender and result",
  ["platform", "sender", "result"],
);

export function pushConsumer(deps: { sender: PushSender; log: Logger }): EventHandler {
  /** The recipients' devices and unread counts in one query, then one push per device and event, in order. */
  async function apply(events: Envelope[], trx: Transaction<unknown>) {
    const list = events
      .filter((e) => e.type === "NotificationCreated")
      .map((e) => e.payload as unknown as NotificationCreated);
    if (list.length === 0) return;
    const devices = await sql<{ user_id: string; device_id: string; platform: Platform; token: string; badge: number }>`
      SELECT t.user_id::text AS user_id, t.device_id, t.platform, t.token,
        (SELECT count(*)::int FROM notifications.notifications
          WHERE user_id = t.user_id AND read_at IS NULL) AS badge
      FROM notifications.push_tokens t WHERE t.user_id = ANY(${[...new Set(list.map((n) => n.userId))]}::uuid[])
      ORDER BY t.user_id, t.device_id`.execute(trx);
    const gone = new Set<string>();
    for (const n of list) {
      for (const d of devices.rows) {
        if (d.user_id !== n.userId.toLowerCase() || gone.has(d.token)) continue;
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
        if (result === "invalid_token") {
          gone.add(d.token);
          await sql`DELETE FROM notifications.push_tokens WHERE token = ${d.token}`.execute(trx);
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
