/**
 * EndSession: the caller ends one of their own sessions (another device, or this one). Its refresh
 * token is refused from now on and CheckSession answers inactive, so its access token stops working
 * as soon as the gateway's short session cache lets go (at once on the gateway that asked).
 * Someone else's session id gets the same NOT_FOUND as an unknown one.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { EndSessionResponseSchema, type IdentityService } from "../../../gen/nova/identity/v1/identity_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { uuid } from "../../../platform/validate.ts";
import type { Identity } from "../deps.ts";
import { revokeSession } from "../queries.ts";

export function endSession(id: Identity): ServiceImpl<typeof IdentityService>["endSession"] {
  return async (req) => {
    const me = requireUser();
    const sessionId = uuid("sessionId", req.sessionId);
    const ended = await revokeSession(id.writer, sessionId, "ended by its user", me.userId);
    if (!ended) throw new NovaError("NOT_FOUND", "sessionId: no such active session", { field: "sessionId" });
    return create(EndSessionResponseSchema, {});
  };
}
