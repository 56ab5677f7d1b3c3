import type { MethodImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { NotificationService } from "../../../gen/nova/notifications/v1/notifications_pb.ts";
import { decodeCursor, LIST, pageSize, SEQ } from "../../../platform/paging.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { listPage } from "../queries.ts";

/** ListNotifications: the caller's inbox as a skeleton (ids and cursors), most recently active first. */
export function listNotifications(
  reader: Kysely<unknown>,
): MethodImpl<typeof NotificationService.method.listNotifications> {
  return async (req) => {
    const user = requireUser().userId;
    const limit = pageSize(req.limit, LIST);
    const before = decodeCursor(req.cursor, SEQ);
    const page = await listPage(reader, user, before, limit);
    return { notificationIds: page.rows.map((x) => x.id), cursors: page.cursors, nextCursor: page.nextCursor };
  };
}
