/** The shapes of the fragments the screens read (src/gateway/operations/fragments). */
export interface MediaItem {
  id: string;
  url: string;
  width: number | null;
  height: number | null;
  alt: string | null;
  variants: { name: string; url: string; width: number; height: number }[];
}

export interface UserSummary {
  id: string;
  username: string;
  displayName: string | null;
  avatarUrl: string | null;
}

export interface PostItem {
  id: string;
  text: string;
  createdAt: string;
  likeCount: number;
  commentCount: number;
  bookmarkCount: number;
  viewerHasLiked: boolean;
  viewerHasBookmarked: boolean;
  sensitive: boolean;
  /** The author's (or a moderator's) warning: the post stays folded behind it until opened. */
  contentWarning: string | null;
  /** Sensitive media this viewer sees blurred (their preference; always when signed out). */
  mediaBlurred: boolean;
  media: MediaItem[];
  author?: UserSummary;
}

export interface Page<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** The smallest variant at least `width` wide, else the largest there is, else the original. */
export function src(m: MediaItem, width: number): string {
  const sorted = [...m.variants].sort((a, b) => a.width - b.width);
  return (sorted.find((v) => v.width >= width) ?? sorted[sorted.length - 1])?.url ?? m.url;
}

export interface MessageItem {
  id: string;
  conversationId: string;
  text: string;
  encrypted: boolean;
  clientMessageId: string;
  createdAt: string;
  media: MediaItem[];
  sender: { id: string; username: string } | null;
}

export interface ReadReceipt {
  user: { id: string } | null;
  lastReadMessageId: string | null;
  readAt: string | null;
}

/** The people of a conversation other than the viewer, as one name ("alice, bob"). */
export function others(members: UserSummary[], viewerId: string | undefined): string {
  return members
    .filter((m) => m.id !== viewerId)
    .map((m) => m.displayName || m.username)
    .join(", ");
}
