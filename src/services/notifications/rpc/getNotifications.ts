import type { MethodImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { NotificationService } from "../../../gen/nova/notifications/v1/notifications_pb.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { notificationsByIds } from "../queries.ts";
import { validateIds } from "../validation.ts";

/** GetNotifications: the caller's notifications by id, in the order asked (others' ids are left out). */
export function getNotifications(
  writer: Kysely<unknown>,
): MethodImpl<typeof NotificationService.method.getNotifications> {
  return async (req) => {
    const user = requireUser().userId;
    const ids = validateIds(req.notificationIds, "notificationIds", true);
    if (ids.length === 0) return { notifications: [] };
    // From the primary: the subscription hydrates a notification the moment it commits.
    const rows = await notificationsByIds(writer, user, ids);
    return {
      notifications: rows.map((n) => ({
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
  };
}
