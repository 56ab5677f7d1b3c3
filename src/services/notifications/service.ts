/**
 * The notifications service's RPCs (one per file in rpc/): the inbox as a
 * skeleton (ids + cursors) and by id in batches, the exact unread count, mark
 * read, preferences and the push-token registry. Every call acts for the user
 * in the caller's verified claims and only touches that user's rows. The
 * inbox itself is written by the consumers (consumers.ts).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { NotificationService } from "../../gen/nova/notifications/v1/notifications_pb.ts";
import { getNotifications } from "./rpc/getNotifications.ts";
import { getPreferences } from "./rpc/getPreferences.ts";
import { getPushSettings } from "./rpc/getPushSettings.ts";
import { getUnreadCount } from "./rpc/getUnreadCount.ts";
import { listNotifications } from "./rpc/listNotifications.ts";
import { markAllRead } from "./rpc/markAllRead.ts";
import { markRead } from "./rpc/markRead.ts";
import { registerPushToken } from "./rpc/registerPushToken.ts";
import { unregisterPushToken } from "./rpc/unregisterPushToken.ts";
import { updatePreferences } from "./rpc/updatePreferences.ts";

export interface NotificationsDeps {
  db: { writer: Kysely<unknown>; reader: Kysely<unknown> };
  /** Devices kept per user; registering one more drops the least recently registered. */
  maxDevices: number;
  /** The VAPID public key; undefined: Web Push is off (WEB devices are refused). */
  webPushPublicKey?: string;
  /** Tests only: Web Push endpoints on loopback are taken. */
  allowLoopback?: boolean;
}

export function createNotificationService(deps: NotificationsDeps): ServiceImpl<typeof NotificationService> {
  const { writer, reader } = deps.db;
  return {
    listNotifications: listNotifications(reader),
    getNotifications: getNotifications(writer),
    getUnreadCount: getUnreadCount(writer),
    markRead: markRead(writer),
    markAllRead: markAllRead(writer),
    getPreferences: getPreferences(writer),
    updatePreferences: updatePreferences(writer),
    registerPushToken: registerPushToken(writer, {
      maxDevices: deps.maxDevices,
      webPush: deps.webPushPublicKey !== undefined,
      allowLoopback: deps.allowLoopback ?? false,
    }),
    getPushSettings: getPushSettings(deps.webPushPublicKey),
    unregisterPushToken: unregisterPushToken(writer),
  };
}
