/**
 * The content part of the gateway: posts and comments, a user's posts and
 * bookmarks (lists: skeleton from the content service, posts hydrated through
 * the posts loader), a post's counts and viewer state, and the post and
 * comment mutations.
 */
import type { IResolvers } from "mercurius";
import type { Comment as CommentMsg, Post as PostMsg } from "../../gen/nova/content/v1/content_pb.ts";
import type { Relationship } from "../../gen/nova/graph/v1/graph_pb.ts";
import type { User as UserMsg } from "../../gen/nova/identity/v1/identity_pb.ts";
import { NovaError } from "../../platform/errors.ts";
import { encodeCursor } from "../../platform/paging.ts";
import { type GatewayContext, requireViewer } from "../context.ts";
import { toGraphQLError } from "../errors.ts";
import {
  blockRules,
  call,
  closedToViewer,
  type HydratedPosts,
  hiddenBy,
  hydratePosts,
  listField,
  loadAll,
  orNull,
  type Page,
  type PostView,
  pageArgs,
  postView,
  presentPosts,
  restrictedUsers,
  type Skeleton,
  union,
  userView,
  viewerRelationships,
} from "../views.ts";
import { commentView } from "./views.ts";

type Parent = { id: string };

/** Skeleton: one page of a user's posts; their cursors are the post ids (ListUserPosts answers none per item). */
async function userPostsSkeleton(ctx: GatewayContext, args: Page, u: Parent): Promise<Skeleton> {
  const res = await call(ctx, () => ctx.deps.content.listUserPosts({ userId: u.id, ...pageArgs(args) }));
  return { items: res.postIds, cursors: res.postIds.map((id) => encodeCursor(id)), next: res.nextCursor };
}

/** Skeleton: one page of the viewer's bookmarks; they are private, so only the viewer's own. */
async function bookmarksSkeleton(ctx: GatewayContext, args: Page, u: Parent): Promise<Skeleton> {
  const viewer = requireViewer(ctx);
  if (viewer.userId !== u.id) {
    throw toGraphQLError(new NovaError("FORBIDDEN", "bookmarks are private", { field: "bookmarks" }));
  }
  const res = await call(ctx, () => ctx.deps.content.listBookmarks(pageArgs(args)));
  return { items: res.postIds, cursors: res.cursors, next: res.nextCursor };
}

/** A profile's posts and the viewer's bookmarks: posts and their authors' relationships; blocks hide, mutes do not. */
const ownPostList = (skeleton: (ctx: GatewayContext, args: Page, u: Parent) => Promise<Skeleton>) =>
  listField<Parent, Page, string, HydratedPosts, (PostMsg | undefined)[], PostView>({
    skeleton,
    hydrate: (ctx, page) => hydratePosts(ctx, page.items),
    rules: blockRules,
    present: presentPosts,
  });

/** Skeleton: one page of a post's comments, whole (nothing left to hydrate); their cursors are the comment ids. */
async function commentsSkeleton(ctx: GatewayContext, args: Page, p: PostView): Promise<Skeleton<CommentMsg>> {
  const res = await call(ctx, () => ctx.deps.content.listComments({ postId: p.id, ...pageArgs(args) }));
  return { items: res.comments, cursors: res.comments.map((c) => encodeCursor(c.id)), next: res.nextCursor };
}

/** Hydrate: the viewer's relationships to the comments' authors (the comments came whole). */
async function hydrateComments(ctx: GatewayContext, page: Skeleton<CommentMsg>) {
  const authors = page.items.map((c) => c.authorId);
  const [relationships, restricted] = await Promise.all([
    viewerRelationships(ctx, authors),
    restrictedUsers(ctx, authors),
  ]);
  return { comments: page.items, relationships, restricted };
}

/**
 * Rules: comments of authors in a block with the viewer, or suspended or banned, leave the page (mutes
 * do not: the viewer opened the post).
 */
function commentRules(h: {
  comments: CommentMsg[];
  relationships: (Relationship | undefined)[];
  restricted: Set<string>;
}) {
  const hidden = union(hiddenBy(h.relationships, false), h.restricted);
  return h.comments.filter((c) => !hidden.has(c.authorId));
}

const comments = listField({
  skeleton: commentsSkeleton,
  hydrate: hydrateComments,
  rules: commentRules,
  present: (kept: CommentMsg[]) => kept.map(commentView),
});

/** Skeleton: one page of who liked a post. */
async function likersSkeleton(ctx: GatewayContext, args: Page, p: PostView): Promise<Skeleton> {
  const res = await call(ctx, () => ctx.deps.content.listPostLikers({ postId: p.id, ...pageArgs(args) }));
  return { items: res.userIds, cursors: res.cursors, next: res.nextCursor };
}

/** Likers: the users and the viewer's relationships to them; blocks either way hide a liker, mutes do not. */
const likers = listField({
  skeleton: likersSkeleton,
  hydrate: async (ctx: GatewayContext, page: Skeleton) => ({
    users: await loadAll(ctx, ctx.loaders.users, page.items),
    relationships: await viewerRelationships(ctx, page.items),
  }),
  rules: (h: { users: (UserMsg | undefined)[]; relationships: (Relationship | undefined)[] }) => {
    const hidden = hiddenBy(h.relationships, false);
    return h.users.map((u) => (u && !hidden.has(u.id) ? u : undefined));
  },
  present: (users: (UserMsg | undefined)[]) => users.map((u) => userView(u)),
});

async function postAfter(ctx: GatewayContext, id: string) {
  const p = postView(await call(ctx, () => ctx.loaders.posts.load(id)));
  if (!p) throw toGraphQLError(new NovaError("NOT_FOUND", "post not found", { field: "postId" }));
  return p;
}

function postMutation(rpc: "likePost" | "unlikePost" | "bookmarkPost" | "unbookmarkPost") {
  return async (_root: unknown, args: { postId: string }, ctx: GatewayContext) => {
    requireViewer(ctx);
    const content = ctx.deps.content as unknown as Record<typeof rpc, (req: { postId: string }) => Promise<unknown>>;
    await call(ctx, () => content[rpc]({ postId: args.postId }));
    return postAfter(ctx, args.postId.toLowerCase());
  };
}

function commentMutation(rpc: "likeComment" | "unlikeComment") {
  return async (_root: unknown, args: { commentId: string }, ctx: GatewayContext) => {
    requireViewer(ctx);
    const content = ctx.deps.content as unknown as Record<
      typeof rpc,
      (req: { commentId: string }) => Promise<{ comment?: CommentMsg }>
    >;
    const res = await call(ctx, () => content[rpc]({ commentId: args.commentId }));
    return commentView(res.comment);
  };
}

/**
 * Blur unless the viewer chose to see sensitive media; their own profile comes through the users loader,
 * in the batch that loads the page's authors, so a page costs no extra call.
 */
async function mediaBlurred(p: PostView, _args: unknown, ctx: GatewayContext): Promise<boolean> {
  if (!p.sensitive) return false;
  if (!ctx.user) return true;
  const viewer = await call(ctx, () => ctx.loaders.users.load(ctx.user?.userId as string));
  return !viewer?.showSensitiveMedia;
}

type Args<T> = { input: T };
type NewPost = {
  text: string;
  media?: { url: string; mimeType: string; width: number; height: number }[] | null;
  attachments?: { mediaId: string; alt?: string | null }[] | null;
  sensitive?: boolean | null;
  contentWarning?: string | null;
};

type PostEditArgs = { id: string; text: string; contentWarning?: string | null; sensitive?: boolean | null };

export const contentResolvers = {
  User: {
    posts: ownPostList(userPostsSkeleton),
    bookmarks: ownPostList(bookmarksSkeleton),
  },
  Post: {
    author: async (p: PostView, _args: unknown, ctx: GatewayContext) =>
      userView(await call(ctx, () => ctx.loaders.users.load(p.authorId))),
    likeCount: async (p: PostView, _args: unknown, ctx: GatewayContext) =>
      (await call(ctx, () => ctx.loaders.postCounts.load(p.id)))?.likeCount ?? 0,
    commentCount: async (p: PostView, _args: unknown, ctx: GatewayContext) =>
      (await call(ctx, () => ctx.loaders.postCounts.load(p.id)))?.commentCount ?? 0,
    bookmarkCount: async (p: PostView, _args: unknown, ctx: GatewayContext) =>
      (await call(ctx, () => ctx.loaders.postCounts.load(p.id)))?.bookmarkCount ?? 0,
    viewerHasLiked: async (p: PostView, _args: unknown, ctx: GatewayContext) =>
      ctx.user ? ((await call(ctx, () => ctx.loaders.viewerState.load(p.id)))?.liked ?? false) : false,
    viewerHasBookmarked: async (p: PostView, _args: unknown, ctx: GatewayContext) =>
      ctx.user ? ((await call(ctx, () => ctx.loaders.viewerState.load(p.id)))?.bookmarked ?? false) : false,
    mediaBlurred,
    comments,
    likers,
    edits: async (p: PostView, _args: unknown, ctx: GatewayContext) =>
      (await call(ctx, () => ctx.deps.content.listPostEdits({ postId: p.id }))).edits.map((e) => ({
        text: e.text,
        replacedAt: e.replacedAt,
      })),
  },
  Comment: {
    author: async (c: { authorId: string }, _args: unknown, ctx: GatewayContext) =>
      userView(await call(ctx, () => ctx.loaders.users.load(c.authorId))),
  },
  Query: {
    post: async (_root: unknown, args: { id: string }, ctx: GatewayContext) => {
      const res = await orNull(ctx, () => ctx.deps.content.getPost({ postId: args.id }));
      // The moderation rule: a suspended or banned author's post is not there; nor, by the privacy
      // rule, a private account's post for a viewer who does not follow it (content refuses it too).
      if (!res?.post) return null;
      const author = res.post.authorId;
      const [restricted, closed] = await Promise.all([restrictedUsers(ctx, [author]), closedToViewer(ctx, author)]);
      if (restricted.size > 0 || closed) return null;
      return postView(res.post);
    },
  },
  Mutation: {
    createPost: async (_root: unknown, { input }: Args<NewPost>, ctx: GatewayContext) => {
      requireViewer(ctx);
      const res = await call(ctx, () =>
        ctx.deps.content.createPost({
          text: input.text,
          media: input.media ?? [],
          attachments: (input.attachments ?? []).map((a) => ({ mediaId: a.mediaId, alt: a.alt ?? "" })),
          sensitive: input.sensitive ?? false,
          contentWarning: input.contentWarning ?? "",
        }),
      );
      return postView(res.post);
    },
    editPost: async (_root: unknown, args: PostEditArgs, ctx: GatewayContext) => {
      requireViewer(ctx);
      const res = await call(ctx, () =>
        ctx.deps.content.editPost({
          postId: args.id,
          text: args.text,
          contentWarning: args.contentWarning ?? undefined,
          sensitive: args.sensitive ?? undefined,
        }),
      );
      return postView(res.post);
    },
    deletePost: async (_root: unknown, args: { id: string }, ctx: GatewayContext) => {
      requireViewer(ctx);
      await call(ctx, () => ctx.deps.content.deletePost({ postId: args.id }));
      return true;
    },
    createComment: async (
      _root: unknown,
      { input }: Args<{ postId: string; text: string; parentId?: string | null }>,
      ctx: GatewayContext,
    ) => {
      requireViewer(ctx);
      const res = await call(ctx, () =>
        ctx.deps.content.createComment({ postId: input.postId, text: input.text, parentId: input.parentId ?? "" }),
      );
      return commentView(res.comment);
    },
    deleteComment: async (_root: unknown, args: { id: string }, ctx: GatewayContext) => {
      requireViewer(ctx);
      await call(ctx, () => ctx.deps.content.deleteComment({ commentId: args.id }));
      return true;
    },
    likePost: postMutation("likePost"),
    unlikePost: postMutation("unlikePost"),
    bookmarkPost: postMutation("bookmarkPost"),
    unbookmarkPost: postMutation("unbookmarkPost"),
    likeComment: commentMutation("likeComment"),
    unlikeComment: commentMutation("unlikeComment"),
  },
} satisfies IResolvers;
