-- What media is for and where it went. `purpose`: POST media is public (long-cached URLs), MESSAGE
-- media private (its variants under `<id>/private/`, read only through short-lived signed URLs, by
-- the members of `conversation_id`). `attached_at`: when AttachMedia first put it on a post or in a
-- message; READY media still unattached 24 hours after it became READY is deleted (purge.ts).

ALTER TABLE media.media
  ADD COLUMN purpose text NOT NULL DEFAULT 'POST' CHECK (purpose IN ('POST', 'MESSAGE')),
  ADD COLUMN conversation_id uuid,
  ADD COLUMN attached_at timestamptz,
  ADD CONSTRAINT media_conversation_of_message CHECK (conversation_id IS NULL OR purpose = 'MESSAGE');

-- Media made READY before attachments were recorded may be on a post already: never delete it as
-- unattached.
UPDATE media.media SET attached_at = updated_at WHERE state = 'READY';

-- The cleanup of READY media never attached.
CREATE INDEX media_unattached ON media.media (updated_at) WHERE state = 'READY' AND attached_at IS NULL;
