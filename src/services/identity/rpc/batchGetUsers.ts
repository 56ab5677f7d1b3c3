/** BatchGetUsers: profiles in the request's order, unknown ids left out. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { BatchGetUsersResponseSchema, type IdentityService } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { invalid } from "../../../platform/errors.ts";
import { optionalUser } from "../../../platform/rpc/context.ts";
import { uuid } from "../../../platform/validate.ts";
import { type Identity, MAX_BATCH } from "../deps.ts";
import { loadProfiles, type PublicProfile, type UserRow, userById } from "../queries.ts";
import { toUser } from "../users.ts";

export function batchGetUsers(id: Identity): ServiceImpl<typeof IdentityService>["batchGetUsers"] {
  return async (req) => {
    if (req.ids.length > MAX_BATCH) throw invalid("ids", `at most ${MAX_BATCH} ids`);
    const ids = [...new Set(req.ids.map((v) => uuid("ids", v)))];
    if (ids.length === 0) return create(BatchGetUsersResponseSchema, { users: [] });
    const viewer = optionalUser()?.userId;
    // Others' public profiles through the cache; the viewer's own row (with the email) from the primary.
    const others = ids.filter((v) => v !== viewer);
    const byId = new Map<string, UserRow | PublicProfile>(
      id.profiles
        ? await id.profiles.getMany(others, (missing) => loadProfiles(id.writer, missing))
        : await loadProfiles(id.reader, others),
    );
    if (viewer && ids.includes(viewer)) {
      const own = await userById(id.writer, viewer);
      if (own) byId.set(own.id, own);
    }
    const users = req.ids.flatMap((v) => {
      const r = byId.get(v.trim().toLowerCase());
      return r ? [toUser(r, viewer)] : [];
    });
    return create(BatchGetUsersResponseSchema, { users });
  };
}
