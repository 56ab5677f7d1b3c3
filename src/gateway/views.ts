import type DataLoader from "dataloader";
/**
 * The presenters and the read pipeline's last steps (ARCHITECTURE §6:
 * hydrate, rules, present) shared by every resolver file (resolvers.ts,
 * <service>.resolvers.ts, realtime/): one User and one Post shape, so the
 * User and Post field resolvers serve them all.
 */
import type { Post as PostMsg } from "../gen/nova/content/v1/content_pb.ts";
import type { User } from "../gen/nova/identity/v1/identity_pb.ts";
import { pageSize } from "../platform/paging.ts";
import type { GatewayContext } from "./context.ts";
import { toGraphQLError } from "./errors.ts";

export interface UserView {
  id: string;
  username: string;
  email: string | null;
  displayName: string;
  bio: string;
  avatarUrl: string | null;
  createdAt: string;
}

export function userView(u: User | undefined): UserView | null {
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

export interface PostView {
  id: string;
  authorId: string;
  text: string;
  media: { url: string; mimeType: string; width: number; height: number }[];
  hashtags: string[];
  createdAt: string;
  editedAt: string | null;
}

export function postView(p: PostMsg | undefined): PostView | null {
  if (!p) return null;
  return {
    id: p.id,
    authorId: p.authorId,
    text: p.text,
    media: p.media.map((m) => ({ url: m.url, mimeType: m.mimeType, width: m.width, height: m.height })),
    hashtags: p.hashtags,
    createdAt: p.createdAt,
    editedAt: p.editedAt === "" ? null : p.editedAt,
  };
}

export type Page = { first?: number | null; after?: string | null };

/** A Relay connection from a skeleton page (per-item cursors, next cursor) and its hydrated nodes (null: dropped). */
export function connection<N>(nodes: (N | null | undefined)[], cursors: string[], next: string) {
  const edges = nodes.flatMap((node, i) => (node ? [{ node, cursor: cursors[i] as string }] : []));
  return { edges, pageInfo: { hasNextPage: next !== "", endCursor: next || (cursors[cursors.length - 1] ?? null) } };
}

export function pageArgs(args: Page, max = 100): { cursor: string; limit: number } {
  try {
    return { cursor: args.after ?? "", limit: pageSize(args.first ?? 20, { max }, "first") };
  } catch (err) {
    throw toGraphQLError(err);
  }
}

/** Runs a backend call for a resolver, presenting its failure as a coded GraphQL error. */
export async function call<T>(ctx: GatewayContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await ctx.call(fn);
  } catch (err) {
    throw toGraphQLError(err);
  }
}

/**
 * Loads a page's items through a loader. A failed batch (a deadline, an overloaded backend) fails the field
 * with its coded error: dropping the items would answer a page with holes that looks complete.
 * An id the backend does not know stays `undefined` (deleted since the skeleton was read).
 */
export async function loadAll<V>(ctx: GatewayContext, loader: DataLoader<string, V>, ids: readonly string[]) {
  const out = await call(ctx, () => loader.loadMany(ids));
  const failed = out.find((x): x is Error => x instanceof Error);
  if (failed) throw toGraphQLError(failed);
  return out as V[];
}

/**
 * Users in a block with the signed-in viewer (either way), and with `mutes`
 * those the viewer mutes: one batch through the relationships loader.
 */
export async function hiddenUsers(ctx: GatewayContext, userIds: string[], mutes = true): Promise<Set<string>> {
  const viewer = ctx.user?.userId;
  if (!viewer) return new Set();
  const others = [...new Set(userIds.filter((id) => id !== viewer))];
  if (others.length === 0) return new Set();
  const rels = await loadAll(ctx, ctx.loaders.relationships, others);
  return new Set(rels.flatMap((r) => (r && ((mutes && r.muting) || r.blocking || r.blockedBy) ? [r.userId] : [])));
}

/** Hydrates post ids through the posts loader (content drops deleted posts and authors who block the viewer), then the rules. */
export async function hydratePostViews(ctx: GatewayContext, ids: string[]): Promise<(PostView | null)[]> {
  const loaded = await loadAll(ctx, ctx.loaders.posts, ids);
  const posts = loaded.map((x) => postView(x));
  const hidden = await hiddenUsers(
    ctx,
    posts.flatMap((p) => (p ? [p.authorId] : [])),
  );
  return posts.map((p) => (p && !hidden.has(p.authorId) ? p : null));
}
