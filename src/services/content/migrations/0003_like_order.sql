-- Who liked a post (ListPostLikers) pages newest first by a sequence, as bookmarks do: likes made
-- before this migration get numbers in no particular order.
ALTER TABLE content.post_likes ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX post_likes_post_seq ON content.post_likes (post_id, seq);
