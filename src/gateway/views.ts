/**
 * The gateway's kit, shared by every domain folder (<domain>/resolvers.ts)
 * and realtime/: the read pipeline (ARCHITECTURE §6: skeleton -> hydrate ->
 * rules -> present, as atproto's getTimeline), the User and Post presenters
 * (one shape each, so the User and Post field resolvers serve them all), the
 * post-list steps four domains share, and the call, page and connection helpers.
 */
import type DataLoader from "dataloader";
import type { Post as PostMsg } from "../gen/nova/content/v1/content_pb.ts";
import type { Relationship } from "../gen/nova/graph/v1/graph_pb.ts";
import type { User } from "../gen/nova/identity/v1/identity_pb.ts";
import { pageSize } from "../platform/paging.ts";
import { closedTo } from "../platform/privacy.ts";
import type { GatewayContext } from "./context.ts";
import { toGraphQLError } from "./errors.ts";
import { type MutedText, mutedWordTest } from "./muted-words.ts";

export interface UserView {
  id: string;
  username: string;
  email: string | null;
  displayName: string;
  bio: string;
  avatarUrl: string | null;
  createdAt: string;
  /** Like email: only for the user themself. */
  emailVerified?: boolean | null;
  twoFactorEnabled?: boolean | null;
  showSensitiveMedia?: boolean | null;
  deletionScheduledAt?: string | null;
  isPrivate: boolean;
}

export function userView(u: User | undefined): UserView | null {
  if (!u) return null;
  return {
    id: u.id,
    username: u.username,
    email: u.email === "" ? null : u.email,
    emailVerified: u.email === "" ? null : u.emailVerified,
    twoFactorEnabled: u.email === "" ? null : u.twoFactorEnabled,
    showSensitiveMedia: u.email === "" ? null : u.showSensitiveMedia,
    deletionScheduledAt: u.deletionScheduledAt === "" ? null : u.deletionScheduledAt,
    displayName: u.displayName,
    bio: u.bio,
    avatarUrl: u.avatarUrl === "" ? null : u.avatarUrl,
    createdAt: u.createdAt,
    isPrivate: u.isPrivate,
  };
}

export interface PostView {
  id: string;
  authorId: string;
  text: string;
  media: { url: string; mimeType: string; width: number; height: number }[];
  /** Uploaded media in carousel order (Post.media hydrates them through the media loader). */
  attachments: { mediaId: string; alt: string }[];
  sensitive: boolean;
  contentWarning: string | null;
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
    attachments: p.attachments.map((a) => ({ mediaId: a.mediaId, alt: a.alt })),
    sensitive: p.sensitive,
    contentWarning: p.contentWarning === "" ? null : p.contentWarning,
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

/** NOT_FOUND from the service as null (the field is nullable), other errors as coded errors. */
export async function orNull<T>(ctx: GatewayContext, fn: () => Promise<T>): Promise<T | null> {
  try {
    return await ctx.call(fn);
  } catch (err) {
    const e = toGraphQLError(err) as Error & { extensions?: { code?: string } };
    if (e.extensions?.code === "NOT_FOUND") return null;
    throw e;
  }
}

/** One page of a list as its owning service answers it: the items (ids, mostly), per-item cursors, the next cursor. */
export interface Skeleton<T = string> {
  items: T[];
  cursors: string[];
  next: string;
}

/**
 * A list field as named steps (atproto's getTimeline pipeline):
 * - `skeleton` asks the owning service for one page (and checks the viewer and the page arguments first);
 * - `hydrate` loads what the page names, in batches through the request's DataLoaders (so a page costs a
 *   fixed number of backend calls whatever its size);
 * - `rules` drop what the viewer may not see over what was hydrated, calling nothing;
 * - `present` shapes the GraphQL values: one per skeleton item, null for one dropped (its cursor stays aligned).
 */
export interface ListSteps<P, A, T, H, R, N> {
  skeleton(ctx: GatewayContext, args: A, parent: P): Promise<Skeleton<T>>;
  hydrate(ctx: GatewayContext, skeleton: Skeleton<T>): Promise<H>;
  rules(hydrated: H): R;
  present(kept: R): (N | null | undefined)[];
}

/**
 * A refused page cursor names the list's GraphQL argument, `after` (the services call it `cursor`):
 * the field a client must fix is the one it sent.
 */
function cursorAsAfter(err: unknown): never {
  const e = err as Error & { extensions?: { field?: string } };
  if (e.extensions?.field === "cursor") {
    e.extensions.field = "after";
    e.message = e.message.replace(/^cursor\b/, "after");
  }
  throw e;
}

/** The resolver of a list field from its steps: a connection of the presented nodes over the skeleton's cursors. */
export function listField<P, A, T, H, R, N>(steps: ListSteps<P, A, T, H, R, N>) {
  return async (parent: P, args: A, ctx: GatewayContext) => {
    const skeleton = await steps.skeleton(ctx, args, parent).catch(cursorAsAfter);
    const hydrated = await steps.hydrate(ctx, skeleton);
    return connection(steps.present(steps.rules(hydrated)), skeleton.cursors, skeleton.next);
  };
}

/** The rules step of a list with no rule of its own (the owning service already applied what holds). */
export const keepAll = <H>(hydrated: H): H => hydrated;

/** Users by id in one batch, presented; those gone are left out (a list of members or actors, not a page). */
export async function loadUserViews(ctx: GatewayContext, ids: readonly string[]): Promise<UserView[]> {
  const users = await loadAll(ctx, ctx.loaders.users, ids);
  return users.flatMap((u) => {
    const v = userView(u);
    return v ? [v] : [];
  });
}

/**
 * Hydrates the signed-in viewer's relationships to `userIds` (the viewer left out; none signed out):
 * one batch through the relationships loader, and no call when there is no one to ask about.
 */
export async function viewerRelationships(
  ctx: GatewayContext,
  userIds: string[],
): Promise<(Relationship | undefined)[]> {
  const viewer = ctx.user?.userId;
  if (!viewer) return [];
  const others = [...new Set(userIds.filter((id) => id !== viewer))];
  if (others.length === 0) return [];
  return loadAll(ctx, ctx.loaders.relationships, others);
}

/** The rule over relationships: users in a block with the viewer (either way), and with `mutes` those the viewer mutes. */
export function hiddenBy(relationships: (Relationship | undefined)[], mutes = true): Set<string> {
  return new Set(
    relationships.flatMap((r) => (r && ((mutes && r.muting) || r.blocking || r.blockedBy) ? [r.userId] : [])),
  );
}

/**
 * The moderation rule, for everyone: the users among `userIds` whose profile identity does not serve
 * (suspended or banned now, or gone), whose content is hidden with them. One batch through the users
 * loader, which the authors' fields use anyway; no call for no one.
 */
export async function restrictedUsers(ctx: GatewayContext, userIds: readonly string[]): Promise<Set<string>> {
  const ids = [...new Set(userIds)];
  if (ids.length === 0) return new Set();
  const users = await loadAll(ctx, ctx.loaders.users, ids);
  return new Set(ids.filter((_id, i) => users[i] === undefined));
}

/**
 * The privacy rule, for everyone: the private accounts among `userIds` the viewer is not and does not
 * follow (signed out: every private account), and every private account among them. Through the users and
 * relationships loaders, which a page's hydrate step fills anyway; no call for no one.
 */
export async function privateUsers(
  ctx: GatewayContext,
  userIds: readonly string[],
): Promise<{ closed: Set<string>; all: Set<string> }> {
  const ids = [...new Set(userIds)];
  if (ids.length === 0) return { closed: new Set(), all: new Set() };
  const users = (await loadAll(ctx, ctx.loaders.users, ids)).filter((u): u is User => u?.isPrivate === true);
  if (users.length === 0) return { closed: new Set(), all: new Set() };
  const relationships = await viewerRelationships(
    ctx,
    users.map((u) => u.id),
  );
  const follows = new Set(relationships.flatMap((r) => (r?.following ? [r.userId] : [])));
  const viewer = ctx.user?.userId;
  return {
    closed: new Set(users.filter((u) => closedTo(viewer, u, follows.has(u.id))).map((u) => u.id)),
    all: new Set(users.map((u) => u.id)),
  };
}

/** Whether the user's content (posts, followers, following) is closed to the viewer by the privacy rule. */
export async function closedToViewer(ctx: GatewayContext, userId: string): Promise<boolean> {
  return (await privateUsers(ctx, [userId])).closed.has(userId);
}

/**
 * A page of posts, hydrated: the posts (undefined: gone), the viewer's relationships to their authors,
 * the authors who are suspended or banned (or gone), and the private authors (those closed to the viewer).
 */
export interface HydratedPosts {
  posts: (PostMsg | undefined)[];
  relationships: (Relationship | undefined)[];
  restricted: Set<string>;
  /** Private authors: `closed` to the viewer (not followed), `all` of them (explore shows none). */
  privates: { closed: Set<string>; all: Set<string> };
  /** Explore: no private account's post, whoever looks. */
  publicOnly?: boolean;
  /** The viewer's muted words, on the lists they apply to (feed, explore, hashtag pages). */
  muted?: MutedText;
}

/**
 * Hydrates post ids: the posts in one batch (content drops deleted posts), then the viewer's
 * relationships to their authors and the authors' profiles (two batches side by side), for the rules step.
 */
export async function hydratePosts(ctx: GatewayContext, postIds: string[]): Promise<HydratedPosts> {
  const posts = await loadAll(ctx, ctx.loaders.posts, postIds);
  const authors = posts.flatMap((p) => (p ? [p.authorId] : []));
  const [relationships, restricted, privates] = await Promise.all([
    viewerRelationships(ctx, authors),
    restrictedUsers(ctx, authors),
    privateUsers(ctx, authors),
  ]);
  return { posts, relationships, restricted, privates };
}

/** The authors a post list hides for the moderation and privacy rules. */
function unseenAuthors({ restricted, privates, publicOnly }: HydratedPosts): Set<string> {
  return union(restricted, publicOnly ? privates.all : privates.closed);
}

/**
 * The rule of post lists, the one place it is applied (content's GetPosts does not ask the graph):
 * a post whose author the viewer mutes, blocks or is blocked by, who is suspended or banned, or whose
 * private account the viewer does not follow, is dropped, and one carrying a word the viewer muted where
 * muted words were hydrated.
 */
export function postRules(h: HydratedPosts): (PostMsg | undefined)[] {
  const { posts, relationships, muted } = h;
  const kept = withoutAuthors(posts, union(hiddenBy(relationships), unseenAuthors(h)));
  return muted ? kept.map((p) => (p && !muted(p.text) ? p : undefined)) : kept;
}

/** The signed-in viewer's muted words (one ListMutedWords per request, through its loader); none signed out. */
export async function viewerMutedText(ctx: GatewayContext): Promise<MutedText | undefined> {
  const viewer = ctx.user?.userId;
  if (!viewer) return undefined;
  const words = await call(ctx, () => ctx.loaders.mutedWords.load(viewer));
  return mutedWordTest(words.map((w) => w.phrase));
}

/** Hydrates post ids for the lists muted words apply to: the posts, relationships and the viewer's muted words. */
async function hydrateFeedPosts(ctx: GatewayContext, postIds: string[], publicOnly = false): Promise<HydratedPosts> {
  const [hydrated, muted] = await Promise.all([hydratePosts(ctx, postIds), viewerMutedText(ctx)]);
  return { ...hydrated, muted, publicOnly };
}

/**
 * The rule of lists the viewer chose to open (a profile's posts, their bookmarks): only blocks (and
 * moderation and privacy) hide.
 */
export function blockRules(h: HydratedPosts): (PostMsg | undefined)[] {
  return withoutAuthors(h.posts, union(hiddenBy(h.relationships, false), unseenAuthors(h)));
}

export function union(a: Set<string>, b: Set<string>): Set<string> {
  return b.size === 0 ? a : new Set([...a, ...b]);
}

function withoutAuthors<T extends { authorId: string }>(items: (T | undefined)[], hidden: Set<string>) {
  return items.map((x) => (x && !hidden.has(x.authorId) ? x : undefined));
}

export const presentPosts = (posts: (PostMsg | undefined)[]) => posts.map((p) => postView(p));

/** Post ids through hydrate, rules and present (a list's steps, and a pushed feed post's in realtime/). */
export async function hydratePostViews(ctx: GatewayContext, ids: string[]): Promise<(PostView | null)[]> {
  return presentPosts(postRules(await hydrateFeedPosts(ctx, ids)));
}

/**
 * The steps of a list of post ids the viewer may see, muted words applied (feed, explore, hashtag pages);
 * `publicOnly` (explore) leaves out every private account's posts, followed or not.
 */
export function postList<P, A>(
  skeleton: (ctx: GatewayContext, args: A, parent: P) => Promise<Skeleton>,
  opts: { publicOnly?: boolean } = {},
) {
  return listField({
    skeleton,
    hydrate: (ctx, page) => hydrateFeedPosts(ctx, page.items, opts.publicOnly),
    rules: postRules,
    present: presentPosts,
  });
}
