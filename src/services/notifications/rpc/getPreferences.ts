import type { MethodImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { NotificationService } from "../../../gen/nova/notifications/v1/notifications_pb.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { preferences } from "../queries.ts";

/** GetPreferences: which types notify the caller (all of them until set). */
export function getPreferences(writer: Kysely<unknown>): MethodImpl<typeof NotificationService.method.getPreferences> {
  return async () => {
    const user = requireUser().userId;
    return { preferences: await preferences(writer, user) };
  };
}
