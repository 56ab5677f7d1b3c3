import type { MethodImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { NotificationService } from "../../../gen/nova/notifications/v1/notifications_pb.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { upsertPreferences } from "../queries.ts";

/** UpdatePreferences: sets the types given, keeps the others. */
export function updatePreferences(
  writer: Kysely<unknown>,
): MethodImpl<typeof NotificationService.method.updatePreferences> {
  return async (req) => {
    const user = requireUser().userId;
    const given = {
      follow: req.follow,
      like: req.like,
      comment: req.comment,
      mention: req.mention,
      message: req.message,
      reply: req.reply,
      commentLike: req.commentLike,
      followRequest: req.followRequest,
      followRequestApproved: req.followRequestApproved,
    };
    return { preferences: await upsertPreferences(writer, user, given) };
  };
}
