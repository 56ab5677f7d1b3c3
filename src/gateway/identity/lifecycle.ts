/**
 * The account-lifecycle mutations (email verification, password reset and change). The ones
 * that send mail spend the gateway's mail budgets (mail-limits.ts) before calling identity.
 */
import type { Tokens } from "../../gen/nova/identity/v1/identity_pb.ts";
import { type GatewayContext, requireViewer } from "../context.ts";
import { toGraphQLError } from "../errors.ts";
import { call, userView } from "../views.ts";
import { clientInfo } from "./sessions.ts";

export const VERIFY_FIRST = "check your inbox: the link in the mail we sent finishes signing up and signs you in";

function tokens(t: Tokens | undefined) {
  return { accessToken: t?.accessToken ?? "", refreshToken: t?.refreshToken ?? "", expiresIn: t?.expiresIn ?? 0 };
}

/** Spends one mail of the address's (or the viewer's) and the client IP's budget. */
export async function spendMail(
  ctx: GatewayContext,
  field: string,
  who: { address?: string; userId?: string },
): Promise<void> {
  try {
    await ctx.mailLimits?.spend(field, { ...who, ip: ctx.ip ?? "" });
  } catch (err) {
    throw toGraphQLError(err);
  }
}

export const lifecycleMutations = {
  signUp: async (
    _root: unknown,
    { input }: { input: { email: string; username: string; password: string } },
    ctx: GatewayContext,
  ) => {
    if (ctx.mailLimits?.signUp) await spendMail(ctx, "email", { address: input.email });
    const res = await call(ctx, () => ctx.deps.identity.register({ ...input, client: clientInfo(ctx) }));
    if (res.verificationRequired) {
      return { verificationRequired: true, accessToken: null, refreshToken: null, expiresIn: null, user: null };
    }
    return { verificationRequired: false, ...tokens(res.tokens), user: userView(res.user) };
  },
  verifyEmail: async (_root: unknown, args: { token: string }, ctx: GatewayContext) => {
    const res = await call(ctx, () => ctx.deps.identity.verifyEmail({ token: args.token, client: clientInfo(ctx) }));
    return { ...tokens(res.tokens), user: userView(res.user) };
  },
  resendVerification: async (_root: unknown, _args: unknown, ctx: GatewayContext) => {
    const viewer = requireViewer(ctx);
    await spendMail(ctx, "email", { userId: viewer.userId });
    await call(ctx, () => ctx.deps.identity.resendVerification({}));
    return true;
  },
  requestPasswordReset: async (_root: unknown, args: { email: string }, ctx: GatewayContext) => {
    await spendMail(ctx, "email", { address: args.email });
    await call(ctx, () => ctx.deps.identity.requestPasswordReset({ email: args.email }));
    return true;
  },
  resetPassword: async (_root: unknown, args: { token: string; newPassword: string }, ctx: GatewayContext) => {
    const res = await call(ctx, () =>
      ctx.deps.identity.resetPassword({ token: args.token, newPassword: args.newPassword }),
    );
    // Every session ended: this gateway stops trusting their cached "active" at once.
    if (res.userId) ctx.forgetSessions(res.userId);
    return true;
  },
  changePassword: async (
    _root: unknown,
    args: { currentPassword: string; newPassword: string },
    ctx: GatewayContext,
  ) => {
    const viewer = requireViewer(ctx);
    const res = await call(ctx, () =>
      ctx.deps.identity.changePassword({ currentPassword: args.currentPassword, newPassword: args.newPassword }),
    );
    ctx.forgetSessions(viewer.userId);
    return res.sessionsRevoked;
  },
};
