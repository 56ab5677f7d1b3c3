import type { MethodImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { NotificationService } from "../../../gen/nova/notifications/v1/notifications_pb.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { markReadRows, unreadCount } from "../queries.ts";

/** MarkAllRead: marks every unread notification of the caller read. */
export function markAllRead(writer: Kysely<unknown>): MethodImpl<typeof NotificationService.method.markAllRead> {
  return async () => {
    const user = requireUser().userId;
    return writer.transaction().execute(async (trx) => {
      const marked = await markReadRows(trx, user, undefined);
      return { marked, unreadCount: await unreadCount(trx, user) };
    });
  };
}
