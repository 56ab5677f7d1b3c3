/**
 * The graph service: follows, blocks, mutes and exact counts. Every change of
 * one pair of users runs under a transaction lock on that pair (pair.ts), so a
 * follow racing a block cannot slip through; the change and its event commit
 * together. Writes are idempotent: a repeated one changes nothing and emits
 * nothing. One RPC per file in rpc/, its SQL in queries.ts, its events in
 * events.ts.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "../../gen/nova/graph/v1/graph_pb.ts";
import type { GraphDeps } from "./deps.ts";
import { approveAllFollowRequests } from "./rpc/approveAllFollowRequests.ts";
import { approveFollowRequest } from "./rpc/approveFollowRequest.ts";
import { block } from "./rpc/block.ts";
import { denyFollowRequest } from "./rpc/denyFollowRequest.ts";
import { follow } from "./rpc/follow.ts";
import { getCounts } from "./rpc/getCounts.ts";
import { getRelationships } from "./rpc/getRelationships.ts";
import { listBlocked } from "./rpc/listBlocked.ts";
import { listFollowers } from "./rpc/listFollowers.ts";
import { listFollowing } from "./rpc/listFollowing.ts";
import { listFollowRequests } from "./rpc/listFollowRequests.ts";
import { listMuted } from "./rpc/listMuted.ts";
import { mute } from "./rpc/mute.ts";
import { addMutedWord, listMutedWords, removeMutedWord } from "./rpc/mutedWords.ts";
import { scanBlocks } from "./rpc/scanBlocks.ts";
import { unblock } from "./rpc/unblock.ts";
import { unfollow } from "./rpc/unfollow.ts";
import { unmute } from "./rpc/unmute.ts";

export type { GraphDeps } from "./deps.ts";
export { MAX_BATCH } from "./validation.ts";

export function createGraphService(deps: GraphDeps): ServiceImpl<typeof GraphService> {
  return {
    follow: follow(deps),
    unfollow: unfollow(deps),
    listFollowRequests: listFollowRequests(deps),
    approveFollowRequest: approveFollowRequest(deps),
    denyFollowRequest: denyFollowRequest(deps),
    approveAllFollowRequests: approveAllFollowRequests(deps),
    block: block(deps),
    unblock: unblock(deps),
    mute: mute(deps),
    unmute: unmute(deps),
    listFollowers: listFollowers(deps),
    listBlocked: listBlocked(deps),
    listMuted: listMuted(deps),
    listMutedWords: listMutedWords(deps),
    addMutedWord: addMutedWord(deps),
    removeMutedWord: removeMutedWord(deps),
    listFollowing: listFollowing(deps),
    getRelationships: getRelationships(deps),
    getCounts: getCounts(deps),
    scanBlocks: scanBlocks(deps),
  };
}

/** True for a ConnectError that says the user does not exist. */
export function isNotFound(err: unknown): boolean {
  return err instanceof ConnectError && err.code === Code.NotFound;
}
