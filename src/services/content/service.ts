/**
 * The content service: posts (edit history, soft delete), comments (one
 * level of replies), likes, bookmarks and exact counters. Every write and its
 * events commit in one transaction; every handler validates its input and
 * checks the caller itself.
 *
 * This file only wires: each RPC is in rpc/<method>.ts, the SQL in queries.ts,
 * the events in events.ts, the shared checks in access.ts and the like and
 * bookmark toggles in toggles.ts.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { ContentService } from "../../gen/nova/content/v1/content_pb.ts";
import { type ContentDeps, contentContext, type PostCache } from "./context.ts";
import { bookmarkPost } from "./rpc/bookmarkPost.ts";
import { createComment } from "./rpc/createComment.ts";
import { createPost } from "./rpc/createPost.ts";
import { deleteComment } from "./rpc/deleteComment.ts";
import { deletePost } from "./rpc/deletePost.ts";
import { editPost } from "./rpc/editPost.ts";
import { getComments } from "./rpc/getComments.ts";
import { getCounts } from "./rpc/getCounts.ts";
import { getPost } from "./rpc/getPost.ts";
import { getPosts } from "./rpc/getPosts.ts";
import { getViewerState } from "./rpc/getViewerState.ts";
import { likeComment } from "./rpc/likeComment.ts";
import { likePost } from "./rpc/likePost.ts";
import { listBookmarks } from "./rpc/listBookmarks.ts";
import { listComments } from "./rpc/listComments.ts";
import { listOwnComments } from "./rpc/listOwnComments.ts";
import { listOwnLikes } from "./rpc/listOwnLikes.ts";
import { listPostEdits } from "./rpc/listPostEdits.ts";
import { listPostLikers } from "./rpc/listPostLikers.ts";
import { listUserPosts } from "./rpc/listUserPosts.ts";
import { markPostSensitive } from "./rpc/markPostSensitive.ts";
import { scanPosts } from "./rpc/scanPosts.ts";
import { unbookmarkPost } from "./rpc/unbookmarkPost.ts";
import { unlikeComment } from "./rpc/unlikeComment.ts";
import { unlikePost } from "./rpc/unlikePost.ts";

export function createContentService(deps: ContentDeps, cache?: PostCache): ServiceImpl<typeof ContentService> {
  const ctx = contentContext(deps, cache);
  return {
    createPost: (req) => createPost(ctx, req),
    editPost: (req) => editPost(ctx, req),
    deletePost: (req) => deletePost(ctx, req),
    markPostSensitive: (req) => markPostSensitive(ctx, req),
    getPost: (req) => getPost(ctx, req),
    getPosts: (req) => getPosts(ctx, req),
    listPostEdits: (req) => listPostEdits(ctx, req),
    listUserPosts: (req) => listUserPosts(ctx, req),
    createComment: (req) => createComment(ctx, req),
    deleteComment: (req) => deleteComment(ctx, req),
    listComments: (req) => listComments(ctx, req),
    getComments: (req) => getComments(ctx, req),
    likePost: (req) => likePost(ctx, req),
    unlikePost: (req) => unlikePost(ctx, req),
    bookmarkPost: (req) => bookmarkPost(ctx, req),
    unbookmarkPost: (req) => unbookmarkPost(ctx, req),
    likeComment: (req) => likeComment(ctx, req),
    unlikeComment: (req) => unlikeComment(ctx, req),
    listBookmarks: (req) => listBookmarks(ctx, req),
    listOwnComments: (req) => listOwnComments(ctx, req),
    listOwnLikes: (req) => listOwnLikes(ctx, req),
    listPostLikers: (req) => listPostLikers(ctx, req),
    getCounts: (req) => getCounts(ctx, req),
    getViewerState: (req) => getViewerState(ctx, req),
    scanPosts: (req) => scanPosts(ctx, req),
  };
}
