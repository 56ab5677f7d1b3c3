/**
 * What every content handler works with: the databases, the outbox, the peers (graph and identity,
 * behind an interface so a test can stand in for them), the post cache, and the hook that drops
 * cached views after a write.
 */
import type { PostCounts } from "../../gen/nova/content/v1/content_pb.ts";
import type { Outbox } from "../../platform/events/outbox.ts";
import { type ContentDb, loadPosts, type PostRow } from "./queries.ts";

/** What content needs from other services (RPC-backed in the module, cached there). */
export interface ContentPeers {
  /**
   * Of `authorIds`, those who block `viewerId` (or whom the viewer blocks: either way, no contact).
   * `fresh` (for writes) asks the graph's primary, past every cache; reads may be up to a moment old.
   */
  blockedBetween(viewerId: string, authorIds: string[], fresh?: boolean): Promise<Set<string>>;
  /**
   * Of `authorIds`, the private accounts `viewerId` (undefined: signed out) is not and does not follow
   * (platform/privacy.ts). `fresh` as for blocks. Without it (tests that need no identity) none are.
   */
  closedAuthors?(viewerId: string | undefined, authorIds: string[], fresh?: boolean): Promise<Set<string>>;
  /** Existing users by username -> id. */
  resolveUsernames(usernames: string[]): Promise<Map<string, string>>;
  /**
   * The media service's answer for these ids, as the caller sees them (their own in any state,
   * others' only when READY): owner and state by id; unknown ids are absent.
   */
  mediaOf(ids: string[]): Promise<Map<string, { ownerId: string; state: string }>>;
  /**
   * The media service's AttachMedia as the author, just before the post is written: the media is
   * then kept (never cleaned up as unattached), and media uploaded for messages is refused.
   */
  attachMedia(ids: string[]): Promise<void>;
}

export interface ContentDeps {
  db: { writer: ContentDb; reader: ContentDb };
  outbox: Outbox;
  peers: ContentPeers;
  /** Called after a write commits with the posts whose cached views it changed. */
  changed?: (postIds: string[]) => Promise<void> | void;
}

export interface PostCache {
  /** Live posts by id, through the cache when there is one. */
  posts(ids: string[]): Promise<Map<string, PostRow>>;
  /** Counters by post id (absent: no counters row), through the cache when there is one. */
  counts?(ids: string[]): Promise<Map<string, PostCounts>>;
}

export interface ContentContext {
  writer: ContentDb;
  reader: ContentDb;
  outbox: Outbox;
  peers: ContentPeers;
  cache: PostCache;
  /** Drops the cached views of these posts; call after the write's commit. */
  changed(postIds: string[]): Promise<void>;
}

/** The handlers' context; without a cache, posts are read from the reader. */
export function contentContext(deps: ContentDeps, cache?: PostCache): ContentContext {
  return {
    writer: deps.db.writer,
    reader: deps.db.reader,
    outbox: deps.outbox,
    peers: deps.peers,
    cache: cache ?? { posts: (ids) => loadPosts(deps.db.reader, ids) },
    changed: async (ids) => {
      await deps.changed?.(ids);
    },
  };
}
