/** Logout: revokes the caller's current session. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type IdentityService, LogoutResponseSchema } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { Identity } from "../deps.ts";
import { revokeSession } from "../queries.ts";

export function logout(id: Identity): ServiceImpl<typeof IdentityService>["logout"] {
  return async () => {
    const user = requireUser();
    await revokeSession(id.writer, user.sessionId, "logout", user.userId);
    return create(LogoutResponseSchema, {});
  };
}
