/**
 * The viewer's sessions: list them (device, IP, created, last used) and end any one. Ending one
 * drops this gateway's cached "active" for it, so its access token is refused at once here.
 */
import type { Session } from "../../gen/nova/identity/v1/identity_pb.ts";
import { type GatewayContext, requireViewer } from "../context.ts";
import { call, connection, type Page, pageArgs } from "../views.ts";

/** The client a session is opened or refreshed from, as identity records it. */
export function clientInfo(ctx: GatewayContext): { ip: string; userAgent: string } {
  return { ip: ctx.ip ?? "", userAgent: ctx.userAgent ?? "" };
}

function sessionView(s: Session) {
  return {
    id: s.id,
    userAgent: s.userAgent === "" ? null : s.userAgent,
    ip: s.ip === "" ? null : s.ip,
    createdAt: s.createdAt,
    lastUsedAt: s.lastUsedAt,
    current: s.current,
  };
}

export const sessionResolvers = {
  Query: {
    sessions: async (_root: unknown, args: Page, ctx: GatewayContext) => {
      requireViewer(ctx);
      const res = await call(ctx, () => ctx.deps.identity.listSessions(pageArgs(args)));
      return connection(res.sessions.map(sessionView), res.cursors, res.nextCursor);
    },
  },
  Mutation: {
    endSession: async (_root: unknown, args: { sessionId: string }, ctx: GatewayContext) => {
      const viewer = requireViewer(ctx);
      await call(ctx, () => ctx.deps.identity.endSession({ sessionId: args.sessionId }));
      ctx.forgetSessions(viewer.userId, args.sessionId);
      return true;
    },
  },
};
