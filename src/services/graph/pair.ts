/**
 * The shape of every write of the graph: one change of the pair (caller,
 * target) under the pair's transaction lock, so a follow racing a block
 * cannot slip through; the change and its events commit together.
 */
import type { Transaction } from "kysely";
import type { Counts, Relationship } from "../../gen/nova/graph/v1/graph_pb.ts";
import { NovaError } from "../../platform/errors.ts";
import { requireUser } from "../../platform/rpc/context.ts";
import type { GraphDeps } from "./deps.ts";
import { counts, type GraphTables, lockPair, relationships } from "./queries.ts";
import { validateUserId } from "./validation.ts";

/** The change itself: true when it changed something (and wrote its events). */
export type PairChange = (trx: Transaction<GraphTables>, me: string, target: string) => Promise<boolean>;

export interface PairResult {
  changed: boolean;
  relationship: Relationship | undefined;
  counts: Counts[];
}

/**
 * Runs `change` for (caller, `rawTarget`). The target must not be the caller and, unless `mustExist` is
 * false (undoing is allowed for any id, so a deleted account can still be unfollowed), must exist.
 */
export async function changePair(
  deps: GraphDeps,
  rawTarget: string,
  change: PairChange,
  opts: { mustExist: boolean } = { mustExist: true },
): Promise<PairResult> {
  const me = requireUser().userId;
  const target = validateUserId(rawTarget);
  if (target === me) throw new NovaError("VALIDATION_FAILED", "userId: cannot be yourself", { field: "userId" });
  if (opts.mustExist && !(await deps.userExists(target))) {
    throw new NovaError("NOT_FOUND", "user not found", { field: "userId" });
  }
  const [a, b] = me < target ? [me, target] : [target, me];
  const result = await deps.db.writer.transaction().execute(async (trx) => {
    await lockPair(trx, a, b);
    const changed = await change(trx, me, target);
    // The state after the change, from the primary: the caller answers with it, never from a lagging replica.
    const [rel] = await relationships(trx, me, [target]);
    return { changed, relationship: rel, counts: await counts(trx, [me, target]) };
  });
  if (result.changed) await deps.changed?.([me, target]);
  return result;
}
