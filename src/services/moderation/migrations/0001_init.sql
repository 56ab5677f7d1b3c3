-- moderation: users' reports, grouped by the subject they name (the moderators' queue).
-- Every report takes the next number of this sequence, and so does its subject, so the most recently
-- reported subject comes first and a page boundary never moves under a moderator paging.
CREATE SEQUENCE moderation.report_seq;

CREATE TABLE moderation.subjects (
  id                uuid PRIMARY KEY,
  kind              text NOT NULL CHECK (kind IN ('post', 'comment', 'message', 'account')),
  subject_id        uuid NOT NULL,
  -- The account the subject belongs to (for an account, itself): who an action would touch.
  user_id           uuid NOT NULL,
  state             text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'actioned', 'dismissed')),
  last_seq          bigint NOT NULL UNIQUE,
  last_reported_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (kind, subject_id)
);
CREATE INDEX subjects_queue ON moderation.subjects (state, last_seq DESC);

CREATE TABLE moderation.reports (
  id           uuid PRIMARY KEY,
  subject_ref  uuid NOT NULL REFERENCES moderation.subjects (id) ON DELETE RESTRICT,
  reporter_id  uuid NOT NULL,
  category     text NOT NULL CHECK (category IN
                 ('spam', 'harassment', 'hate', 'nudity', 'violence', 'self_harm', 'illegal', 'other')),
  comment      text NOT NULL DEFAULT '',
  -- The messages the reporter attached, as they saw them (AttachedMessage's fields).
  messages     jsonb NOT NULL DEFAULT '[]',
  state        text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'actioned', 'dismissed')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
-- One open report per reporter and subject: a second one folds into it.
CREATE UNIQUE INDEX reports_open_once ON moderation.reports (subject_ref, reporter_id) WHERE state = 'open';
-- The rate budget counts a reporter's recent reports.
CREATE INDEX reports_by_reporter ON moderation.reports (reporter_id, updated_at);
CREATE INDEX reports_of_subject ON moderation.reports (subject_ref, updated_at DESC);
