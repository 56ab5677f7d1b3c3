/**
 * Every GraphQL resolver, merged from the domain folders (<domain>/resolvers.ts).
 * A field resolved by two domains is a mistake the merge refuses at start.
 * Subscriptions are installed apart (realtime/resolvers.ts).
 */
import type { IResolvers } from "mercurius";
import { contentResolvers } from "./content/resolvers.ts";
import { exportResolvers } from "./export/resolvers.ts";
import { feedResolvers } from "./feed/resolvers.ts";
import { graphResolvers } from "./graph/resolvers.ts";
import { identityResolvers } from "./identity/resolvers.ts";
import { mediaResolvers } from "./media/resolvers.ts";
import { messagingResolvers } from "./messaging/resolvers.ts";
import { moderationResolvers } from "./moderation/resolvers.ts";
import { notificationResolvers } from "./notifications/resolvers.ts";
import { searchResolvers } from "./search/resolvers.ts";

type Fields = Record<string, unknown>;

/** Merges resolver maps type by type (User's fields come from graph and content, Query's from all). */
export function mergeResolvers(...parts: Record<string, Fields>[]): IResolvers {
  const out: Record<string, Fields> = {};
  for (const part of parts) {
    for (const [type, fields] of Object.entries(part)) {
      const into = out[type] ?? {};
      out[type] = into;
      for (const [name, resolver] of Object.entries(fields)) {
        if (name in into) throw new Error(`${type}.${name} is resolved by two domains`);
        into[name] = resolver;
      }
    }
  }
  return out as IResolvers;
}

export const resolvers: IResolvers = mergeResolvers(
  identityResolvers,
  graphResolvers,
  contentResolvers,
  feedResolvers,
  mediaResolvers,
  messagingResolvers,
  notificationResolvers,
  searchResolvers,
  moderationResolvers,
  exportResolvers,
);
