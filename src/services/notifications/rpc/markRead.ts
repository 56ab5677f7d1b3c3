import type { MethodImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { NotificationService } from "../../../gen/nova/notifications/v1/notifications_pb.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { markReadRows, unreadCount } from "../queries.ts";
import { validateIds } from "../validation.ts";

/** MarkRead: marks the caller's notifications among the ids read; returns how many and the unread count after. */
export function markRead(writer: Kysely<unknown>): MethodImpl<typeof NotificationService.method.markRead> {
  return async (req) => {
    const user = requireUser().userId;
    const ids = validateIds(req.notificationIds);
    return writer.transaction().execute(async (trx) => {
      const marked = await markReadRows(trx, user, ids);
      return { marked, unreadCount: await unreadCount(trx, user) };
    });
  };
}
