/** grpc.health.v1 Check and Watch, served by every process. */

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  Health,
  type HealthCheckRequest,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as Status,
} from "../../gen/grpc/health/v1/health_pb.ts";

export { Status as ServingStatus };

export class HealthRegistry {
  private readonly statuses = new Map<string, Status>([["", Status.SERVING]]);
  private readonly watchers = new Set<() => void>();

  set(service: string, status: Status): void {
    this.statuses.set(service, status);
    for (const w of this.watchers) w();
  }

  /** Marks everything NOT_SERVING (used when a drain starts). */
  setAll(status: Status): void {
    for (const k of this.statuses.keys()) this.statuses.set(k, status);
    for (const w of this.watchers) w();
  }

  get(service: string): Status | undefined {
    return this.statuses.get(service);
  }

  impl(): ServiceImpl<typeof Health> {
    return {
      check: (req) => {
        const status = this.statuses.get(req.service);
        if (status === undefined) throw new ConnectError(`unknown service ${req.service}`, Code.NotFound);
        return create(HealthCheckResponseSchema, { status });
      },
      watch: async function* (this: HealthRegistry, req: HealthCheckRequest, ctx: HandlerContext) {
        let last: Status | undefined;
        let wake: (() => void) | undefined;
        const onChange = () => wake?.();
        this.watchers.add(onChange);
        try {
          while (!ctx.signal.aborted) {
            const status = this.statuses.get(req.service) ?? Status.SERVICE_UNKNOWN;
            if (status !== last) {
              last = status;
              yield create(HealthCheckResponseSchema, { status });
            }
            await new Promise<void>((resolve) => {
              wake = resolve;
              ctx.signal.addEventListener("abort", () => resolve(), { once: true });
            });
          }
        } finally {
          this.watchers.delete(onChange);
        }
      }.bind(this),
    };
  }
}

export { Health };
