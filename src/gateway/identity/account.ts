/**
 * Username and address changes. requestEmailChange sends mail, so it spends the viewer's and the
 * IP's mail budgets (mail-limits.ts) before calling identity.
 */
import { type GatewayContext, requireViewer } from "../context.ts";
import { call, userView } from "../views.ts";
import { spendMail } from "./lifecycle.ts";

export const accountMutations = {
  changeUsername: async (_root: unknown, args: { username: string }, ctx: GatewayContext) => {
    requireViewer(ctx);
    const res = await call(ctx, () => ctx.deps.identity.changeUsername({ username: args.username }));
    return userView(res.user);
  },
  requestEmailChange: async (_root: unknown, args: { password: string; newEmail: string }, ctx: GatewayContext) => {
    const viewer = requireViewer(ctx);
    await spendMail(ctx, "newEmail", { userId: viewer.userId });
    await call(ctx, () => ctx.deps.identity.requestEmailChange({ password: args.password, newEmail: args.newEmail }));
    return true;
  },
  confirmEmailChange: async (_root: unknown, args: { token: string }, ctx: GatewayContext) => {
    const res = await call(ctx, () => ctx.deps.identity.confirmEmailChange({ token: args.token }));
    return userView(res.user);
  },
};
