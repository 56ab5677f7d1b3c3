/**
 * CheckSession: whether a session is neither revoked nor expired. The gateway asks on every
 * authenticated request (cached a few seconds), so this is where a session's last use is seen:
 * last_used_at moves at most once a minute, a write only when the row read says it is due.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { CheckSessionResponseSchema, type IdentityService } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { uuid } from "../../../platform/validate.ts";
import type { Identity } from "../deps.ts";
import { sessionState, touchSessionAtMostEvery } from "../queries.ts";

const LAST_USED_EVERY_MS = 60_000;

export function checkSession(id: Identity): ServiceImpl<typeof IdentityService>["checkSession"] {
  return async (req) => {
    const sessionId = uuid("sessionId", req.sessionId);
    // Revocation must take effect at once: read the writer.
    const row = await sessionState(id.writer, sessionId);
    const now = Date.now();
    const active = !!row && row.revoked_at === null && row.expires_at.getTime() > now;
    if (active && now - row.last_used_at.getTime() >= LAST_USED_EVERY_MS) {
      await touchSessionAtMostEvery(id.writer, sessionId, LAST_USED_EVERY_MS);
    }
    return create(CheckSessionResponseSchema, { active });
  };
}
