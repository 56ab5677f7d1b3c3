-- Short video (services/media/video.ts): a kind of its own, and its length once processed.
ALTER TABLE media.media DROP CONSTRAINT media_kind_check;
ALTER TABLE media.media ADD CONSTRAINT media_kind_check CHECK (kind IN ('IMAGE', 'VIDEO'));
ALTER TABLE media.media ADD COLUMN duration_ms integer CHECK (duration_ms > 0);
