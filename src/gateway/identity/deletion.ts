/** Account deletion at the gateway: identity keeps every rule (rpc/requestAccountDeletion.ts, erasure.ts). */
import { type GatewayContext, requireViewer } from "../context.ts";
import { call } from "../views.ts";

export const deletionMutations = {
  requestAccountDeletion: async (
    _root: unknown,
    args: { password: string; code?: string | null },
    ctx: GatewayContext,
  ) => {
    const viewer = requireViewer(ctx);
    const res = await call(ctx, () =>
      ctx.deps.identity.requestAccountDeletion({ password: args.password, code: args.code ?? "" }),
    );
    // Every other session ended: this gateway stops trusting their cached "active" at once.
    ctx.forgetSessions(viewer.userId);
    return { scheduledAt: res.deletionScheduledAt, sessionsEnded: res.sessionsRevoked };
  },
  cancelAccountDeletion: async (_root: unknown, _args: unknown, ctx: GatewayContext) => {
    requireViewer(ctx);
    const res = await call(ctx, () => ctx.deps.identity.cancelAccountDeletion({}));
    return res.cancelled;
  },
};
