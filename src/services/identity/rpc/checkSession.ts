/** CheckSession: whether a session is neither revoked nor expired. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { CheckSessionResponseSchema, type IdentityService } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { uuid } from "../../../platform/validate.ts";
import type { Identity } from "../deps.ts";
import { sessionState } from "../queries.ts";

export function checkSession(id: Identity): ServiceImpl<typeof IdentityService>["checkSession"] {
  return async (req) => {
    const sessionId = uuid("sessionId", req.sessionId);
    // Revocation must take effect at once: read the writer.
    const row = await sessionState(id.writer, sessionId);
    const active = !!row && row.revoked_at === null && row.expires_at.getTime() > Date.now();
    return create(CheckSessionResponseSchema, { active });
  };
}
