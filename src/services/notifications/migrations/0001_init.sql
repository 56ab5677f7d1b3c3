-- notifications: the inbox (grouped notifications and their actors), projections of blocks and
-- mutes from the graph's events (never its tables), per-type preferences and push tokens.

-- One row per notification; a group (likes of one post, follows, comments or mentions on one post,
-- messages of one conversation) gains actors while it is unread and younger than the window.
CREATE SEQUENCE notifications.notification_seq;
CREATE TABLE notifications.notifications (
  id              uuid PRIMARY KEY,
  user_id         uuid NOT NULL,
  type            text NOT NULL CHECK (type IN ('FOLLOW', 'LIKE', 'COMMENT', 'MENTION', 'MESSAGE')),
  -- The post or conversation ('' for FOLLOW); group_key = type:subject_id.
  subject_id      text NOT NULL DEFAULT '',
  post_id         uuid,
  group_key       text NOT NULL,
  -- The most recent actors first (at most 3) and the number of distinct actors.
  actor_ids       uuid[] NOT NULL,
  actor_count     integer NOT NULL CHECK (actor_count > 0),
  activity_count  integer NOT NULL DEFAULT 1 CHECK (activity_count > 0),
  -- Position in the list: taken again whenever the group changes, so the list is "most recently
  -- active first" and a cursor (a position) never shows an item twice.
  seq             bigint NOT NULL DEFAULT nextval('notifications.notification_seq'),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  read_at         timestamptz
);
CREATE UNIQUE INDEX notifications_list ON notifications.notifications (user_id, seq DESC);
-- Open groups and the unread count.
CREATE INDEX notifications_unread ON notifications.notifications (user_id, group_key, created_at DESC) WHERE read_at IS NULL;
CREATE INDEX notifications_post ON notifications.notifications (post_id) WHERE post_id IS NOT NULL;

-- The actors of each notification (the cascade is the documented intent: actors belong to their notification).
CREATE TABLE notifications.notification_actors (
  notification_id uuid NOT NULL REFERENCES notifications.notifications (id) ON DELETE CASCADE,
  actor_id        uuid NOT NULL,
  user_id         uuid NOT NULL,
  acted_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (notification_id, actor_id)
);
CREATE INDEX notification_actors_recent ON notifications.notification_actors (notification_id, acted_at DESC);
CREATE INDEX notification_actors_pair ON notifications.notification_actors (user_id, actor_id);

-- Actors whose activity a user does not get: blocks both ways, mutes by the user.
CREATE TABLE notifications.hidden (
  user_id   uuid NOT NULL,
  actor_id  uuid NOT NULL,
  reason    text NOT NULL CHECK (reason IN ('mute', 'block')),
  PRIMARY KEY (user_id, actor_id, reason)
);

-- Per-type preferences; no row means everything on.
CREATE TABLE notifications.preferences (
  user_id     uuid PRIMARY KEY,
  follow      boolean NOT NULL DEFAULT true,
  "like"      boolean NOT NULL DEFAULT true,
  comment     boolean NOT NULL DEFAULT true,
  mention     boolean NOT NULL DEFAULT true,
  message     boolean NOT NULL DEFAULT true,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Push tokens: one per device of a user; a token belongs to one device.
CREATE TABLE notifications.push_tokens (
  user_id     uuid NOT NULL,
  device_id   text NOT NULL,
  platform    text NOT NULL CHECK (platform IN ('APNS', 'FCM')),
  token       text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, device_id)
);
