-- Messages of an erased account (identity's AccountErased) stay in their conversations as "deleted
-- message": text, ciphertext and media cleared, the sender replaced by an opaque id of that erasure.
ALTER TABLE messaging.messages ADD COLUMN erased_at timestamptz;
ALTER TABLE messaging.messages
  DROP CONSTRAINT messages_has_content,
  ADD CONSTRAINT messages_has_content
    CHECK (erased_at IS NOT NULL OR ciphertext IS NOT NULL OR text <> '' OR attachments <> '[]'::jsonb);
