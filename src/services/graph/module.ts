import { GraphService } from "../../gen/nova/graph/v1/graph_pb.ts";
import { IdentityService } from "../../gen/nova/identity/v1/identity_pb.ts";
import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import { createGraphService } from "./service.ts";

export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
  const identity = ctx.client(IdentityService);
  const impl = createGraphService({
    db: ctx.db().kysely<unknown>(),
    outbox: ctx.outbox(),
    userExists: async (id) => (await identity.batchGetUsers({ ids: [id] })).users.length === 1,
  });
  return { services: [{ service: GraphService, impl }] };
}
