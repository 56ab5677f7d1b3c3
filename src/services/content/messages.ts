/** Rows as the content API's messages. */
import { create } from "@bufbuild/protobuf";
import {
  type Comment,
  CommentSchema,
  MediaSchema,
  type Post,
  PostSchema,
} from "../../gen/nova/content/v1/content_pb.ts";
import type { CommentRow, PostRow } from "./queries.ts";

export function toPost(r: PostRow): Post {
  return create(PostSchema, {
    id: r.id,
    authorId: r.author_id,
    text: r.text,
    media: r.media.map((m) => create(MediaSchema, m)),
    hashtags: r.hashtags,
    mentionIds: r.mention_ids,
    createdAt: r.created_at,
    editedAt: r.edited_at ?? "",
    attachments: r.attachments ?? [],
    sensitive: r.sensitive ?? false,
    contentWarning: r.content_warning ?? "",
  });
}

export function toComment(r: CommentRow): Comment {
  return create(CommentSchema, {
    id: r.id,
    postId: r.post_id,
    authorId: r.author_id,
    parentId: r.parent_id ?? "",
    text: r.text,
    likeCount: r.like_count,
    createdAt: r.created_at.toISOString(),
  });
}
