/**
 * ListMutedWords, AddMutedWord, RemoveMutedWord: the caller's own muted words (the user comes from
 * the claims). Adding a phrase the caller already mutes (in any case) sets its expiry instead.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "../../../gen/nova/graph/v1/graph_pb.ts";
import { NovaError } from "../../../platform/errors.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import { uuid, uuidv7 } from "../../../platform/validate.ts";
import type { GraphDeps } from "../deps.ts";
import { deleteMutedWord, type MutedWordRow, mutedWords, upsertMutedWord } from "../queries.ts";
import { MAX_MUTED_WORDS, validateExpiry, validatePhrase } from "../validation.ts";

const present = (w: MutedWordRow) => ({
  id: w.id,
  phrase: w.phrase,
  expiresAt: w.expires_at?.toISOString() ?? "",
  createdAt: w.created_at.toISOString(),
});

type Impl = ServiceImpl<typeof GraphService>;

export function listMutedWords(deps: GraphDeps): Impl["listMutedWords"] {
  return async () => ({ words: (await mutedWords(deps.db.reader, requireUser().userId)).map(present) });
}

export function addMutedWord(deps: GraphDeps): Impl["addMutedWord"] {
  return async (req) => {
    const user = requireUser().userId;
    const phrase = validatePhrase(req.phrase);
    const expiresAt = validateExpiry(req.expiresAt);
    const word = await deps.db.writer.transaction().execute(async (trx) => {
      const kept = await mutedWords(trx, user);
      const known = kept.some((w) => w.phrase.toLowerCase() === phrase.toLowerCase());
      // Expired words do not count (they stay as rows until added again or removed).
      if (!known && kept.length >= MAX_MUTED_WORDS) {
        throw new NovaError("LIMIT_REACHED", `phrase: at most ${MAX_MUTED_WORDS} muted words`, { field: "phrase" });
      }
      return upsertMutedWord(trx, { id: uuidv7(), userId: user, phrase, expiresAt });
    });
    return { word: present(word) };
  };
}

export function removeMutedWord(deps: GraphDeps): Impl["removeMutedWord"] {
  return async (req) => ({
    removed: await deleteMutedWord(deps.db.writer, requireUser().userId, uuid("id", req.id, "a muted word id")),
  });
}
