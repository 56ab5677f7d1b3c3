/**
 * UploadPublicKey: the caller's current X25519 key; a new key retires the previous one (kept for
 * the messages made with it). Uploading the current key again changes nothing; a retired key
 * cannot come back.
 */
import { invalid } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { MessagingDeps, Rpc } from "../deps.ts";
import { insertKey, keyByValue, lockKeysOf, retireKeys } from "../queries.ts";
import { validatePublicKey } from "../validation.ts";
import { toKey } from "../views.ts";

export function uploadPublicKey(deps: MessagingDeps): Rpc<"uploadPublicKey"> {
  return async (req) => {
    const me = requireUser().userId;
    const raw = validatePublicKey(req.publicKey);
    return deps.db.writer.transaction().execute(async (trx) => {
      await lockKeysOf(trx, me);
      const prior = await keyByValue(trx, me, raw);
      if (prior && prior.retired_at === null) return { key: toKey(prior), changed: false };
      if (prior) throw invalid("publicKey", "was replaced before; a rotation needs a new key");
      await retireKeys(trx, me);
      return { key: toKey(await insertKey(trx, me, raw)), changed: true };
    });
  };
}
