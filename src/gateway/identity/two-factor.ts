/**
 * Two-factor sign-in at the gateway: `signIn` (a session, or a challenge when the account has a
 * second factor), `completeSignIn`, and enrolment and removal. Identity keeps every rule (totp.ts).
 */
import type { Tokens } from "../../gen/nova/identity/v1/identity_pb.ts";
import { type GatewayContext, requireViewer } from "../context.ts";
import { call, userView } from "../views.ts";
import { clientInfo } from "./sessions.ts";

function tokens(t: Tokens | undefined) {
  return { accessToken: t?.accessToken ?? "", refreshToken: t?.refreshToken ?? "", expiresIn: t?.expiresIn ?? 0 };
}

export const twoFactorMutations = {
  signIn: async (
    _root: unknown,
    { input }: { input: { identifier: string; password: string } },
    ctx: GatewayContext,
  ) => {
    const res = await call(ctx, () => ctx.deps.identity.login({ ...input, client: clientInfo(ctx) }));
    if (res.twoFactorChallenge) {
      return {
        twoFactorRequired: true,
        challenge: res.twoFactorChallenge,
        challengeExpiresIn: res.challengeExpiresIn,
        accessToken: null,
        refreshToken: null,
        expiresIn: null,
        user: null,
        deletionCancelled: false,
      };
    }
    return {
      twoFactorRequired: false,
      challenge: null,
      challengeExpiresIn: null,
      ...tokens(res.tokens),
      user: userView(res.user),
      deletionCancelled: res.deletionCancelled,
    };
  },
  completeSignIn: async (_root: unknown, args: { challenge: string; code: string }, ctx: GatewayContext) => {
    const res = await call(ctx, () =>
      ctx.deps.identity.completeTwoFactorLogin({ challenge: args.challenge, code: args.code, client: clientInfo(ctx) }),
    );
    return { ...tokens(res.tokens), user: userView(res.user), deletionCancelled: res.deletionCancelled };
  },
  beginTwoFactorEnrollment: async (_root: unknown, args: { password: string }, ctx: GatewayContext) => {
    requireViewer(ctx);
    const res = await call(ctx, () => ctx.deps.identity.beginTwoFactorEnrollment({ password: args.password }));
    return { otpauthUri: res.otpauthUri, qrCode: res.qrCode, secret: res.secret };
  },
  confirmTwoFactorEnrollment: async (_root: unknown, args: { code: string }, ctx: GatewayContext) => {
    requireViewer(ctx);
    const res = await call(ctx, () => ctx.deps.identity.confirmTwoFactorEnrollment({ code: args.code }));
    return res.recoveryCodes;
  },
  disableTwoFactor: async (_root: unknown, args: { code: string }, ctx: GatewayContext) => {
    requireViewer(ctx);
    await call(ctx, () => ctx.deps.identity.disableTwoFactor({ code: args.code }));
    return true;
  },
};
