-- messaging: conversations, their members (with read positions), messages, and the public-key
-- registry of end-to-end encrypted messages.
CREATE TABLE messaging.conversations (
  id                uuid PRIMARY KEY DEFAULT uuidv7(),
  kind              text NOT NULL CHECK (kind IN ('direct', 'group')),
  -- The group's creator (handed to the earliest member when the creator leaves); either user of a direct one.
  creator_id        uuid NOT NULL,
  -- A direct conversation's pair, lower id first: at most one conversation per pair.
  direct_low        uuid,
  direct_high       uuid,
  -- Messages are numbered 1, 2, ... under this row's lock, so positions commit in order, without gaps.
  last_seq          bigint NOT NULL DEFAULT 0,
  last_message_id   uuid,
  last_activity_at  timestamptz NOT NULL DEFAULT now(),
  created_at        timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'direct') = (direct_low IS NOT NULL AND direct_high IS NOT NULL)),
  CHECK (direct_low < direct_high)
);
CREATE UNIQUE INDEX conversations_direct ON messaging.conversations (direct_low, direct_high) WHERE kind = 'direct';

-- Order of the inbox: every activity (creation, message, membership change) takes the next value.
CREATE SEQUENCE messaging.activity_seq;
-- Order in which members joined (creator hand-over, member lists).
CREATE SEQUENCE messaging.join_seq;

CREATE TABLE messaging.members (
  conversation_id       uuid NOT NULL REFERENCES messaging.conversations (id) ON DELETE RESTRICT,
  user_id               uuid NOT NULL,
  -- The conversation's last_seq when the member joined (again): they read the messages after it.
  joined_seq            bigint NOT NULL,
  join_order            bigint NOT NULL DEFAULT nextval('messaging.join_seq'),
  joined_at             timestamptz NOT NULL DEFAULT now(),
  -- Set when the member left or was removed (removed_by is then the remover; themself when they left).
  left_at               timestamptz,
  removed_by            uuid,
  -- Read position: the member has read every message with seq <= last_read_seq. Only moves forward.
  last_read_seq         bigint NOT NULL,
  last_read_message_id  uuid,
  read_at               timestamptz,
  -- The conversation's last activity, copied to each member: an inbox page is one index scan.
  activity_seq          bigint NOT NULL,
  PRIMARY KEY (conversation_id, user_id),
  CHECK (last_read_seq >= joined_seq)
);
CREATE INDEX members_inbox ON messaging.members (user_id, activity_seq DESC) WHERE left_at IS NULL;

CREATE TABLE messaging.public_keys (
  id          uuid PRIMARY KEY DEFAULT uuidv7(),
  user_id     uuid NOT NULL,
  algorithm   text NOT NULL CHECK (algorithm = 'x25519'),
  public_key  bytea NOT NULL CHECK (octet_length(public_key) = 32),
  created_at  timestamptz NOT NULL DEFAULT now(),
  -- Set when a newer key replaced it; old keys stay readable for the messages made with them.
  retired_at  timestamptz,
  UNIQUE (user_id, public_key)
);
CREATE UNIQUE INDEX public_keys_current ON messaging.public_keys (user_id) WHERE retired_at IS NULL;

CREATE TABLE messaging.messages (
  id                 uuid PRIMARY KEY DEFAULT uuidv7(),
  conversation_id    uuid NOT NULL REFERENCES messaging.conversations (id) ON DELETE RESTRICT,
  seq                bigint NOT NULL CHECK (seq > 0),
  sender_id          uuid NOT NULL,
  client_message_id  text NOT NULL CHECK (char_length(client_message_id) BETWEEN 1 AND 64),
  -- Plaintext; '' for an encrypted message, whose plaintext the server never sees.
  text               text NOT NULL CHECK (char_length(text) <= 4000),
  ciphertext         bytea CHECK (octet_length(ciphertext) BETWEEN 1 AND 16384),
  key_id             uuid REFERENCES messaging.public_keys (id) ON DELETE RESTRICT,
  created_at         timestamptz NOT NULL DEFAULT now(),
  CHECK ((ciphertext IS NULL) = (key_id IS NULL)),
  CHECK (ciphertext IS NULL OR text = ''),
  CHECK (ciphertext IS NOT NULL OR text <> ''),
  -- Pages and unread counts (sender included: counted from the index alone).
  UNIQUE (conversation_id, seq) INCLUDE (sender_id),
  -- Idempotent sends: a resend of the same client message id finds this row.
  UNIQUE (conversation_id, sender_id, client_message_id)
);
