/** The content domain's own presenter (posts are presented by the kit, ../views.ts: four domains list them). */
import type { Comment as CommentMsg } from "../../gen/nova/content/v1/content_pb.ts";

export interface CommentView {
  id: string;
  text: string;
  authorId: string;
  postId: string;
  parentId: string | null;
  createdAt: string;
  likeCount: number;
}

export function commentView(c: CommentMsg | undefined): CommentView | null {
  if (!c) return null;
  return {
    id: c.id,
    text: c.text,
    authorId: c.authorId,
    postId: c.postId,
    parentId: c.parentId === "" ? null : c.parentId,
    createdAt: c.createdAt,
    likeCount: c.likeCount,
  };
}
