import type { MethodImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { NotificationService } from "../../../gen/nova/notifications/v1/notifications_pb.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { registerToken } from "../queries.ts";
import { type Platform, validateDeviceId, validatePlatform, validateToken } from "../validation.ts";

/** RegisterPushToken: the caller's device token; `maxDevices` are kept per user (the least recently registered go). */
export function registerPushToken(
  writer: Kysely<unknown>,
  maxDevices: number,
): MethodImpl<typeof NotificationService.method.registerPushToken> {
  return async (req) => {
    const user = requireUser().userId;
    const platform: Platform = validatePlatform(req.platform);
    const token = validateToken(platform, req.token);
    const deviceId = validateDeviceId(req.deviceId);
    const device = await writer
      .transaction()
      .execute((trx) => registerToken(trx, { user, deviceId, platform, token, maxDevices }));
    if (!device) throw new Error("push token upsert returned nothing");
    return {
      device: {
        deviceId: device.device_id,
        platform: device.platform,
        createdAt: device.created_at.toISOString(),
        updatedAt: device.updated_at.toISOString(),
      },
    };
  };
}
