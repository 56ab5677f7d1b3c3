/** GetPublicKey: a user's current public key. */
import { NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { uuid } from "../../../platform/validate.ts";
import type { MessagingDeps, Rpc } from "../deps.ts";
import { currentKey } from "../queries.ts";
import { toKey } from "../views.ts";

export function getPublicKey(deps: MessagingDeps): Rpc<"getPublicKey"> {
  return async (req) => {
    requireUser();
    const userId = uuid("userId", req.userId);
    const row = await currentKey(deps.db.reader, userId);
    if (!row) throw new NovaError("NOT_FOUND", "the user has no public key", { field: "userId" });
    return { key: toKey(row) };
  };
}
