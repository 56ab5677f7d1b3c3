import type { MethodImpl } from "@connectrpc/connect";
import type { NotificationService } from "../../../gen/nova/notifications/v1/notifications_pb.ts";

/** GetPushSettings: the VAPID public key a browser subscribes with (PushManager.subscribe's applicationServerKey). */
export function getPushSettings(
  webPushPublicKey: string | undefined,
): MethodImpl<typeof NotificationService.method.getPushSettings> {
  return async () => ({ webPushPublicKey: webPushPublicKey ?? "" });
}
