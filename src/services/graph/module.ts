import { GraphService } from "../../gen/nova/graph/v1/graph_pb.ts";
import { IdentityService } from "../../gen/nova/identity/v1/identity_pb.ts";
import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import type { GraphTables } from "./queries.ts";
import { createGraphService } from "./service.ts";

export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
  const identity = ctx.client(IdentityService);
  // "These two block each other", cached by readers (content) under the sorted pair: dropped on every
  // replica through the cache bus (not a Kafka consumer group, which would reach only one replica).
  const blocked = ctx.cache().entity<{ blocked: boolean }>("graph", "blocked", 1);
  const impl = createGraphService({
    db: ctx.db().kysely<GraphTables>(),
    outbox: ctx.outbox(),
    userExists: async (id) => (await identity.batchGetUsers({ ids: [id] })).users.length === 1,
    lookupUser: async (id) => {
      const [u] = (await identity.batchGetUsers({ ids: [id] })).users;
      return u && { isPrivate: u.isPrivate };
    },
    changed: async ([a, b]) => {
      if (a && b) await blocked.invalidate([a < b ? `${a}:${b}` : `${b}:${a}`]);
    },
  });
  return { services: [{ service: GraphService, impl }] };
}
