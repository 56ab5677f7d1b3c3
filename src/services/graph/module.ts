import { GraphService } from "../../gen/nova/graph/v1/graph_pb.ts";
import { IdentityService } from "../../gen/nova/identity/v1/identity_pb.ts";
import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import { erasureConsumer } from "../identity/erasure.ts";
import { GRAPH_EVENTS, writeRelationshipEvents } from "./events.ts";
import { eraseRelationships, type GraphDb, type GraphTables } from "./queries.ts";
import { createGraphService } from "./service.ts";

export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
  const identity = ctx.client(IdentityService);
  // "These two block each other", cached by readers (content) under the sorted pair: dropped on every
  // replica through the cache bus (not a Kafka consumer group, which would reach only one replica).
  const blocked = ctx.cache().entity<{ blocked: boolean }>("graph", "blocked", 1);
  const db = ctx.db().kysely<GraphTables>();
  const outbox = ctx.outbox();
  const impl = createGraphService({
    db,
    outbox,
    userExists: async (id) => (await identity.batchGetUsers({ ids: [id] })).users.length === 1,
    lookupUser: async (id) => {
      const [u] = (await identity.batchGetUsers({ ids: [id] })).users;
      return u && { isPrivate: u.isPrivate };
    },
    changed: async ([a, b]) => {
      if (a && b) await blocked.invalidate([a < b ? `${a}:${b}` : `${b}:${a}`]);
    },
  });
  // An erased account's relationships go (identity's AccountErased); the others' counts move as an
  // unfollow moves them, and identity's copy follows from FollowsErased.
  const erasure = erasureConsumer("graph.erasure", "graph", async (userId, trx) => {
    const { moved, blockedWith } = await eraseRelationships(trx as unknown as GraphDb, userId);
    if (moved.length) {
      await writeRelationshipEvents(outbox, trx, ...moved.map((m) => GRAPH_EVENTS.event("FollowsErased", null, m)));
    }
    await blocked.invalidate(blockedWith.map((b) => (b < userId ? `${b}:${userId}` : `${userId}:${b}`)));
  });
  return { services: [{ service: GraphService, impl }], consumers: [erasure] };
}
