/** ListSessions: the caller's active sessions, newest first, a page at a time; the caller's own is marked. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  type IdentityService,
  ListSessionsResponseSchema,
  SessionSchema,
} from "../../../gen/nova/identity/v1/identity_pb.ts";
import { decodeCursor, ID, LIST, pageSize } from "../../../platform/paging.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { Identity } from "../deps.ts";
import { activeSessionsPage } from "../queries.ts";

export function listSessions(id: Identity): ServiceImpl<typeof IdentityService>["listSessions"] {
  return async (req) => {
    const me = requireUser();
    const limit = pageSize(req.limit, LIST);
    const after = decodeCursor(req.cursor, ID);
    // A session just ended must not be listed: read the writer.
    const page = await activeSessionsPage(id.writer, me.userId, after, limit);
    return create(ListSessionsResponseSchema, {
      sessions: page.rows.map((s) =>
        create(SessionSchema, {
          id: s.id,
          userAgent: s.user_agent,
          ip: s.ip,
          createdAt: s.created_at.toISOString(),
          lastUsedAt: s.last_used_at.toISOString(),
          current: s.id === me.sessionId,
        }),
      ),
      cursors: page.cursors,
      nextCursor: page.nextCursor,
    });
  };
}
