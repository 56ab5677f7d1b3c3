import type { MethodImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { NotificationService } from "../../../gen/nova/notifications/v1/notifications_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { registerToken } from "../queries.ts";
import {
  type Platform,
  validateDeviceId,
  validatePlatform,
  validateToken,
  validateWebSubscription,
} from "../validation.ts";

/**
 * RegisterPushToken: the caller's device token, or a browser's Web Push subscription (its endpoint
 * is the token); `maxDevices` are kept per user (the least recently registered go). WEB is refused
 * while Web Push is off (no VAPID keys).
 */
export function registerPushToken(
  writer: Kysely<unknown>,
  opts: { maxDevices: number; webPush: boolean; allowLoopback: boolean },
): MethodImpl<typeof NotificationService.method.registerPushToken> {
  return async (req) => {
    const user = requireUser().userId;
    const platform: Platform = validatePlatform(req.platform);
    if (platform === "WEB" && !opts.webPush) {
      throw new NovaError("PUSH_UNAVAILABLE", undefined, { field: "platform" });
    }
    const web = platform === "WEB" ? validateWebSubscription(req, opts.allowLoopback) : undefined;
    const token = web ? web.endpoint : validateToken(platform, req.token);
    const deviceId = validateDeviceId(req.deviceId);
    const keys = web ? { p256dh: web.p256dh, auth: web.auth } : undefined;
    const { maxDevices } = opts;
    const device = await writer
      .transaction()
      .execute((trx) => registerToken(trx, { user, deviceId, platform, token, maxDevices, keys }));
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
