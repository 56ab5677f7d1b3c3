import { readFileSync } from "node:fs";
import { NotificationService } from "../../gen/nova/notifications/v1/notifications_pb.ts";
import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import { erasureConsumer } from "../identity/erasure.ts";
import { createInbox, pushConsumer } from "./consumers.ts";
import { LoggingPushSender } from "./push.ts";
import { eraseRecipientAndActor } from "./queries.ts";
import { createNotificationService } from "./service.ts";
import { vapidKeys, WebPushSender } from "./webpush.ts";

/**
 * Blocks and mutes come from a projection of the graph's events, not from
 * GetRelationships: the inbox consumer then needs no live graph (no call per
 * event, no end-user claims to act under inside a consumer), and in the
 * embedded log a block is applied before any later like in commit order.
 */
export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
  const db = ctx.db().kysely<unknown>();
  const inbox = createInbox({
    outbox: ctx.outbox(),
    options: { groupWindowMs: ctx.config.NOTIFICATIONS_GROUP_WINDOW_HOURS * 3_600_000 },
  });
  const log = ctx.log.child({ component: "push" });
  // Real APNs / FCM need provider credentials Nova does not have: their sender logs each push.
  const logging = new LoggingPushSender(log);
  const keys = vapidKeys(ctx.config);
  if (!keys) log.warn("no VAPID keys (PUSH_VAPID_PUBLIC_KEY, PUSH_VAPID_PRIVATE_KEY): Web Push is off");
  const allowLoopback = ctx.config.PUSH_ALLOW_LOOPBACK === "true";
  const web = keys
    ? new WebPushSender({
        keys,
        subject: ctx.config.PUSH_VAPID_SUBJECT,
        allowLoopback,
        ca: ctx.config.PUSH_CA_FILE ? readFileSync(ctx.config.PUSH_CA_FILE) : undefined,
        log,
      })
    : logging;
  return {
    services: [
      {
        service: NotificationService,
        impl: createNotificationService({
          db,
          maxDevices: ctx.config.NOTIFICATIONS_MAX_DEVICES,
          webPushPublicKey: keys?.publicKey,
          allowLoopback,
        }),
      },
    ],
    consumers: [
      inbox.handler,
      // An erased account's notifications and push subscriptions go; it stops being an actor in others'.
      erasureConsumer("notifications.erasure", "notifications", (userId, trx) => eraseRecipientAndActor(trx, userId)),
      pushConsumer({ senders: { APNS: logging, FCM: logging, WEB: web }, log: ctx.log }),
    ],
  };
}
