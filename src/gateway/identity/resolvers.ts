/**
 * The identity part of the gateway: the viewer (`me`), a user by username,
 * and the account mutations (register, sign in and out, tokens, profile).
 */
import type { IResolvers } from "mercurius";
import type { Tokens } from "../../gen/nova/identity/v1/identity_pb.ts";
import { NovaError } from "../../platform/errors.ts";
import { type GatewayContext, requireViewer } from "../context.ts";
import { toGraphQLError } from "../errors.ts";
import { call, orNull, userView } from "../views.ts";
import { accountMutations } from "./account.ts";
import { deletionMutations } from "./deletion.ts";
import { lifecycleMutations, spendMail, VERIFY_FIRST } from "./lifecycle.ts";
import { clientInfo, sessionResolvers } from "./sessions.ts";
import { twoFactorMutations } from "./two-factor.ts";

function tokens(t: Tokens | undefined) {
  return { accessToken: t?.accessToken ?? "", refreshToken: t?.refreshToken ?? "", expiresIn: t?.expiresIn ?? 0 };
}

type Args<T> = { input: T };
type ProfileInput = {
  displayName?: string | null;
  bio?: string | null;
  avatarUrl?: string | null;
  showSensitiveMedia?: boolean | null;
  isPrivate?: boolean | null;
};

export const identityResolvers = {
  Query: {
    me: async (_root: unknown, _args: unknown, ctx: GatewayContext) => {
      const viewer = requireViewer(ctx);
      const res = await call(ctx, () => ctx.deps.identity.getUser({ id: viewer.userId }));
      return userView(res.user);
    },
    user: async (_root: unknown, args: { username: string }, ctx: GatewayContext) => {
      const res = await orNull(ctx, () => ctx.deps.identity.getUserByUsername({ username: args.username }));
      // A suspended or banned account's profile is not there (identity answers NOT_FOUND).
      return res && userView(res.user);
    },
    ...sessionResolvers.Query,
  },
  Mutation: {
    register: async (
      _root: unknown,
      { input }: Args<{ email: string; username: string; password: string }>,
      ctx: GatewayContext,
    ) => {
      if (ctx.mailLimits?.signUp) await spendMail(ctx, "email", { address: input.email });
      const res = await call(ctx, () => ctx.deps.identity.register({ ...input, client: clientInfo(ctx) }));
      // AuthPayload needs a session: with verification required the mail's link gives it (see signUp).
      if (res.verificationRequired) throw toGraphQLError(new NovaError("EMAIL_NOT_VERIFIED", VERIFY_FIRST));
      return { ...tokens(res.tokens), user: userView(res.user) };
    },
    ...lifecycleMutations,
    ...sessionResolvers.Mutation,
    ...twoFactorMutations,
    ...deletionMutations,
    ...accountMutations,
    login: async (_root: unknown, { input }: Args<{ identifier: string; password: string }>, ctx: GatewayContext) => {
      const res = await call(ctx, () => ctx.deps.identity.login({ ...input, client: clientInfo(ctx) }));
      // AuthPayload needs a session: with two-factor sign-in on, signIn answers the challenge.
      if (res.twoFactorChallenge) throw toGraphQLError(new NovaError("TWO_FACTOR_REQUIRED"));
      return { ...tokens(res.tokens), user: userView(res.user), deletionCancelled: res.deletionCancelled };
    },
    refreshToken: async (_root: unknown, args: { token: string }, ctx: GatewayContext) => {
      const res = await call(ctx, () =>
        ctx.deps.identity.refreshToken({ refreshToken: args.token, client: clientInfo(ctx) }),
      );
      return tokens(res.tokens);
    },
    logout: async (_root: unknown, _args: unknown, ctx: GatewayContext) => {
      const viewer = requireViewer(ctx);
      await call(ctx, () => ctx.deps.identity.logout({}));
      ctx.forgetSessions(viewer.userId, viewer.sessionId);
      return true;
    },
    logoutAll: async (_root: unknown, _args: unknown, ctx: GatewayContext) => {
      const viewer = requireViewer(ctx);
      const res = await call(ctx, () => ctx.deps.identity.logoutAll({}));
      ctx.forgetSessions(viewer.userId);
      return res.sessionsRevoked;
    },
    updateProfile: async (_root: unknown, { input }: Args<ProfileInput>, ctx: GatewayContext) => {
      requireViewer(ctx);
      const res = await call(ctx, () =>
        ctx.deps.identity.updateProfile({
          displayName: input.displayName ?? undefined,
          bio: input.bio ?? undefined,
          avatarUrl: input.avatarUrl ?? undefined,
          showSensitiveMedia: input.showSensitiveMedia ?? undefined,
          isPrivate: input.isPrivate ?? undefined,
        }),
      );
      // Turning public accepts the pending follow requests (repeating it is harmless: none are left).
      if (input.isPrivate === false) await call(ctx, () => ctx.deps.graph.approveAllFollowRequests({}));
      return userView(res.user);
    },
  },
} satisfies IResolvers;
