/** ScanUsers: every user in id order, for modules that rebuild their projections; the total on the first page. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type IdentityService, ScanUsersResponseSchema } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { decodeCursor, ID, pageSize, SCAN } from "../../../platform/paging.ts";
import { requireModuleOrAdmin } from "../../../platform/rpc/authz.ts";
import type { Identity } from "../deps.ts";
import { countUsers, usersPage } from "../queries.ts";
import { toUser } from "../users.ts";

/** Modules that may page through every user (to rebuild their projections). */
const SCANNERS = ["search"] as const;

export function scanUsers(id: Identity): ServiceImpl<typeof IdentityService>["scanUsers"] {
  return async (req) => {
    requireModuleOrAdmin(SCANNERS);
    const limit = pageSize(req.limit, SCAN);
    const after = decodeCursor(req.cursor, ID);
    const page = await usersPage(id.reader, after, limit);
    const total = after ? 0n : await countUsers(id.reader);
    return create(ScanUsersResponseSchema, {
      users: page.rows.map((r) => toUser(r, undefined)),
      nextCursor: page.nextCursor,
      total,
    });
  };
}
