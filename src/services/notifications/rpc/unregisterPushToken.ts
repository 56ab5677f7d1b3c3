import type { MethodImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { NotificationService } from "../../../gen/nova/notifications/v1/notifications_pb.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { unregisterToken } from "../queries.ts";
import { validateDeviceId } from "../validation.ts";

/** UnregisterPushToken: removes the caller's device. */
export function unregisterPushToken(
  writer: Kysely<unknown>,
): MethodImpl<typeof NotificationService.method.unregisterPushToken> {
  return async (req) => {
    const user = requireUser().userId;
    const deviceId = validateDeviceId(req.deviceId);
    return { removed: await unregisterToken(writer, user, deviceId) };
  };
}
