/** GetUser: one profile; the email only for its owner. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { GetUserResponseSchema, type IdentityService } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import { optionalUser } from "../../../platform/rpc/context.ts";
import { uuid } from "../../../platform/validate.ts";
import type { Identity } from "../deps.ts";
import { twoFactorOf, userById } from "../queries.ts";
import { toUser } from "../users.ts";

export function getUser(id: Identity): ServiceImpl<typeof IdentityService>["getUser"] {
  return async (req) => {
    const userId = uuid("id", req.id);
    const viewer = optionalUser()?.userId;
    // The viewer's own profile right after an update must be fresh: read the writer.
    const row = await userById(viewer === userId ? id.writer : id.reader, userId);
    if (!row) throw new NovaError("NOT_FOUND", "user not found", { field: "id" });
    const user = toUser(row, viewer);
    // Like the email, only for its owner.
    if (viewer === userId) user.twoFactorEnabled = Boolean((await twoFactorOf(id.writer, userId))?.enabled_at);
    return create(GetUserResponseSchema, { user });
  };
}
