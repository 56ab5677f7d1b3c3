import type { MethodImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { NotificationService } from "../../../gen/nova/notifications/v1/notifications_pb.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { unreadCount } from "../queries.ts";

/** GetUnreadCount: the exact number of the caller's unread notifications (from the primary). */
export function getUnreadCount(writer: Kysely<unknown>): MethodImpl<typeof NotificationService.method.getUnreadCount> {
  return async () => {
    const user = requireUser().userId;
    return { unreadCount: await unreadCount(writer, user) };
  };
}
