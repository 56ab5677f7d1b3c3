/** GetPublicKeys: keys by id, retired ones included (a message names the key it was made for). */
import { requireUser } from "../../../platform/rpc/context.ts";
import { uuids } from "../../../platform/validate.ts";
import type { MessagingDeps, Rpc } from "../deps.ts";
import { keysById } from "../queries.ts";
import { LIMITS } from "../validation.ts";
import { toKey } from "../views.ts";

export function getPublicKeys(deps: MessagingDeps): Rpc<"getPublicKeys"> {
  return async (req) => {
    requireUser();
    const ids = uuids("keyIds", req.keyIds, LIMITS.batchMax);
    if (ids.length === 0) return { keys: [] };
    return { keys: (await keysById(deps.db.reader, ids)).map(toKey) };
  };
}
