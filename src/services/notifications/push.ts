/**
 * Push delivery: the PushSender of each platform the push consumer
 * (`notifications.push`, consumers.ts) hands each device's push to, and its
 * attempts counter.
 *
 * WEB is delivered (webpush.ts). APNs and FCM delivery needs provider
 * credentials (an APNs auth key, an FCM service account) Nova does not have:
 * their sender logs, and a real one plugs in here behind the same interface.
 */
import type { Logger } from "pino";
import { counter } from "../../platform/observability/metrics.ts";
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
  /** WEB: the subscription's keys the payload is encrypted to. */
  keys?: { p256dh: string; auth: string };
}

export type PushResult = "sent" | "invalid_token" | "failed";

/** The sender of each platform. */
export type PushSenders = Record<Platform, PushSender>;

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
