/** LogoutAll: revokes every active session of the caller. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type IdentityService, LogoutAllResponseSchema } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { Identity } from "../deps.ts";
import { revokeAllSessions } from "../queries.ts";

export function logoutAll(id: Identity): ServiceImpl<typeof IdentityService>["logoutAll"] {
  return async () => {
    const user = requireUser();
    const sessionsRevoked = await revokeAllSessions(id.writer, user.userId, "logout all");
    return create(LogoutAllResponseSchema, { sessionsRevoked });
  };
}
