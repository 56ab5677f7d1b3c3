/** GetUserByUsername: one profile by its username (case-insensitive). */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { GetUserByUsernameResponseSchema, type IdentityService } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { invalid, NovaError } from "../../../platform/errors.ts";
import { optionalUser } from "../../../platform/rpc/context.ts";
import type { Identity } from "../deps.ts";
import { userByUsername } from "../queries.ts";
import { toUser } from "../users.ts";

export function getUserByUsername(id: Identity): ServiceImpl<typeof IdentityService>["getUserByUsername"] {
  return async (req) => {
    const username = req.username.trim().toLowerCase();
    if (!/^[a-z0-9_]{1,30}$/.test(username)) throw invalid("username", "is not a valid username");
    const row = await userByUsername(id.reader, username);
    if (!row) throw new NovaError("NOT_FOUND", "user not found", { field: "username" });
    return create(GetUserByUsernameResponseSchema, { user: toUser(row, optionalUser()?.userId) });
  };
}
