import type { IResolvers } from "mercurius";
import type { Tokens, User } from "../gen/nova/identity/v1/identity_pb.ts";
import { toGraphQLError } from "./errors.ts";
import { type GatewayContext, requireViewer } from "./server.ts";

function user(u: User | undefined) {
  if (!u) return null;
  return {
    id: u.id,
    username: u.username,
    email: u.email === "" ? null : u.email,
    displayName: u.displayName,
    bio: u.bio,
    avatarUrl: u.avatarUrl === "" ? null : u.avatarUrl,
    createdAt: u.createdAt,
  };
}

function tokens(t: Tokens | undefined) {
  return { accessToken: t?.accessToken ?? "", refreshToken: t?.refreshToken ?? "", expiresIn: t?.expiresIn ?? 0 };
}

/** Runs a backend call for a resolver, presenting its failure as a coded GraphQL error. */
async function call<T>(ctx: GatewayContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await ctx.call(fn);
  } catch (err) {
    throw toGraphQLError(err);
  }
}

type Args<T> = { input: T };

export const resolvers: IResolvers = {
  Query: {
    me: async (_root, _args, ctx: GatewayContext) => {
      const viewer = requireViewer(ctx);
      const res = await call(ctx, () => ctx.deps.identity.getUser({ id: viewer.userId }));
      return user(res.user);
    },
    user: async (_root, args: { username: string }, ctx: GatewayContext) => {
      try {
        const res = await ctx.call(() => ctx.deps.identity.getUserByUsername({ username: args.username }));
        return user(res.user);
      } catch (err) {
        const e = toGraphQLError(err) as Error & { extensions?: { code?: string } };
        if (e.extensions?.code === "NOT_FOUND") return null;
        throw e;
      }
    },
  },
  Mutation: {
    register: async (
      _root,
      { input }: Args<{ email: string; username: string; password: string }>,
      ctx: GatewayContext,
    ) => {
      const res = await call(ctx, () => ctx.deps.identity.register(input));
      return { ...tokens(res.tokens), user: user(res.user) };
    },
    login: async (_root, { input }: Args<{ identifier: string; password: string }>, ctx: GatewayContext) => {
      const res = await call(ctx, () => ctx.deps.identity.login(input));
      return { ...tokens(res.tokens), user: user(res.user) };
    },
    refreshToken: async (_root, args: { token: string }, ctx: GatewayContext) => {
      const res = await call(ctx, () => ctx.deps.identity.refreshToken({ refreshToken: args.token }));
      return tokens(res.tokens);
    },
    logout: async (_root, _args, ctx: GatewayContext) => {
      const viewer = requireViewer(ctx);
      await call(ctx, () => ctx.deps.identity.logout({}));
      ctx.forgetSessions(viewer.userId, viewer.sessionId);
      return true;
    },
    logoutAll: async (_root, _args, ctx: GatewayContext) => {
      const viewer = requireViewer(ctx);
      const res = await call(ctx, () => ctx.deps.identity.logoutAll({}));
      ctx.forgetSessions(viewer.userId);
      return res.sessionsRevoked;
    },
    updateProfile: async (
      _root,
      { input }: Args<{ displayName?: string | null; bio?: string | null; avatarUrl?: string | null }>,
      ctx: GatewayContext,
    ) => {
      requireViewer(ctx);
      const res = await call(ctx, () =>
        ctx.deps.identity.updateProfile({
          displayName: input.displayName ?? undefined,
          bio: input.bio ?? undefined,
          avatarUrl: input.avatarUrl ?? undefined,
        }),
      );
      return user(res.user);
    },
  },
};
