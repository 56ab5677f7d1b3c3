/** ResolveUsernames: the users with these usernames (case-insensitive); unknown ones left out. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type IdentityService, ResolveUsernamesResponseSchema } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { invalid } from "../../../platform/errors.ts";
import { optionalUser } from "../../../platform/rpc/context.ts";
import { type Identity, MAX_BATCH } from "../deps.ts";
import { usersByUsernames } from "../queries.ts";
import { toUser } from "../users.ts";

export function resolveUsernames(id: Identity): ServiceImpl<typeof IdentityService>["resolveUsernames"] {
  return async (req) => {
    if (req.usernames.length > MAX_BATCH) throw invalid("usernames", `at most ${MAX_BATCH} usernames`);
    const names = [...new Set(req.usernames.map((u) => u.trim().toLowerCase()))];
    for (const n of names)
      if (!/^[a-z0-9_]{1,30}$/.test(n)) throw invalid("usernames", `"${n}" is not a valid username`);
    if (names.length === 0) return create(ResolveUsernamesResponseSchema, { users: [] });
    const viewer = optionalUser()?.userId;
    const rows = await usersByUsernames(id.reader, names);
    return create(ResolveUsernamesResponseSchema, { users: rows.map((r) => toUser(r, viewer)) });
  };
}
