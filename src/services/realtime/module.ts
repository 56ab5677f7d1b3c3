import type { ModuleContext, ModuleInstance } from "../../runtime/module.ts";
import { pushPublisher } from "./publisher.ts";

/** The `realtime` module: the consumer that turns events into pushes on the bus (see publisher.ts). */
export async function init(ctx: ModuleContext): Promise<ModuleInstance> {
  return { consumers: [pushPublisher(ctx.bus())] };
}
