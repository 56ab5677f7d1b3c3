-- A user's muted words (ListMutedWords): phrases matched as whole words, case-insensitive, by the
-- gateway's rules over posts. One row per phrase as the user wrote it, compared case-folded.
CREATE TABLE graph.muted_words (
  id          uuid PRIMARY KEY,
  user_id     uuid NOT NULL,
  phrase      text NOT NULL CHECK (length(phrase) BETWEEN 1 AND 100),
  expires_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX muted_words_user_phrase ON graph.muted_words (user_id, lower(phrase));
