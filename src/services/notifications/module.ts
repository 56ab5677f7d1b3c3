import { NotificationService } from "../../gen/nova/notifications/v1/notifications_pb.ts";
import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import { createInbox, pushConsumer } from "./consumers.ts";
import { LoggingPushSender } from "./push.ts";
import { createNotificationService } from "./service.ts";

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
  // Real APNs / FCM need provider credentials Nova does not have: this sender logs each push.
  const sender = new LoggingPushSender(ctx.log.child({ component: "push" }));
  return {
    services: [
      {
        service: NotificationService,
        impl: createNotificationService({ db, maxDevices: ctx.config.NOTIFICATIONS_MAX_DEVICES }),
      },
    ],
    consumers: [inbox.handler, pushConsumer({ sender, log: ctx.log })],
  };
}
