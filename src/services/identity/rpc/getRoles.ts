/** GetRoles: users' roles, for the moderation rule that a moderator may not act on an admin. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { GetRolesResponseSchema, type IdentityService } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import { currentCall } from "../../../platform/rpc/context.ts";
import { uuids } from "../../../platform/validate.ts";
import type { Identity } from "../deps.ts";
import { rolesOf } from "../queries.ts";

export function getRoles(id: Identity): ServiceImpl<typeof IdentityService>["getRoles"] {
  return async (req) => {
    const call = currentCall();
    const user = call?.user;
    const allowed = user ? user.admin || user.moderator : call?.caller === "moderation";
    if (!allowed) throw new NovaError("FORBIDDEN", "only moderators, admins or the moderation module may read roles");
    const ids = uuids("userIds", req.userIds, 100, "a user id");
    // The primary: a role granted a moment ago counts at once.
    const found = await rolesOf(id.writer, [...new Set(ids)]);
    return create(GetRolesResponseSchema, {
      roles: ids.flatMap((userId) => {
        const role = found.get(userId);
        return role ? [{ userId, role }] : [];
      }),
    });
  };
}
