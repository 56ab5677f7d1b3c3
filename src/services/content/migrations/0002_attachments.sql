-- Uploaded media in posts (expand: the client-URL `media` column stays for the posts that have it).
-- attachments: [{ "mediaId": uuid, "alt": text }] in carousel order; the media service owns the media.
ALTER TABLE content.posts
  ADD COLUMN attachments jsonb NOT NULL DEFAULT '[]'
    CHECK (jsonb_typeof(attachments) = 'array' AND jsonb_array_length(attachments) <= 10),
  ADD COLUMN sensitive boolean NOT NULL DEFAULT false;
