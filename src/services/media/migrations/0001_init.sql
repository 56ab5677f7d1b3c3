-- media: one row per upload (declared, uploaded, processed or rejected) and its variants. The bytes
-- live in the object store (blobs.ts) under keys `<media id>/<name>`; a row never holds them.

CREATE TABLE media.media (
  id             uuid PRIMARY KEY,
  owner_id       uuid NOT NULL,
  kind           text NOT NULL CHECK (kind IN ('IMAGE')),
  state          text NOT NULL DEFAULT 'PENDING'
                 CHECK (state IN ('PENDING', 'UPLOADED', 'PROCESSING', 'READY', 'REJECTED')),
  -- What createUpload declared: the bytes must be exactly this.
  content_type   text NOT NULL,
  byte_size      bigint NOT NULL CHECK (byte_size > 0),
  -- Filled when READY: the re-encoded original's size (after auto-orientation) and its blurhash.
  width          integer,
  height         integer,
  blurhash       text,
  animated       boolean NOT NULL DEFAULT false,
  -- A code of the error catalogue (MEDIA_*) and the field it names, when REJECTED.
  reject_reason  text,
  reject_field   text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CHECK ((state = 'REJECTED') = (reject_reason IS NOT NULL))
);
CREATE INDEX media_owner ON media.media (owner_id, created_at DESC);
-- The 24-hour cleanup of uploads never completed or never attached.
CREATE INDEX media_unfinished ON media.media (created_at) WHERE state IN ('PENDING', 'UPLOADED', 'PROCESSING');

CREATE TABLE media.variants (
  -- Cascade on purpose: a variant is part of its media and goes with it (the purge deletes the blobs first).
  media_id      uuid NOT NULL REFERENCES media.media (id) ON DELETE CASCADE,
  -- w320, w640, w1080, original.
  name          text NOT NULL,
  blob_key      text NOT NULL UNIQUE,
  width         integer NOT NULL CHECK (width > 0),
  height        integer NOT NULL CHECK (height > 0),
  content_type  text NOT NULL,
  byte_size     bigint NOT NULL,
  PRIMARY KEY (media_id, name)
);
