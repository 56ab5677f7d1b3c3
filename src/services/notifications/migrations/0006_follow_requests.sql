-- Follow requests (issue 20 part 7, follow-request half): a private account's owner is told of a
-- request (FOLLOW_REQUEST, grouped like follows) and the requester of its approval
-- (FOLLOW_REQUEST_APPROVED), each with its preference: apply_activities (0004) reads the column named
-- as the type, so the function stays as it is.
ALTER TABLE notifications.preferences
  ADD COLUMN follow_request boolean NOT NULL DEFAULT true,
  ADD COLUMN follow_request_approved boolean NOT NULL DEFAULT true;
ALTER TABLE notifications.notifications DROP CONSTRAINT notifications_type_check;
ALTER TABLE notifications.notifications ADD CONSTRAINT notifications_type_check
  CHECK (type IN ('FOLLOW', 'LIKE', 'COMMENT', 'MENTION', 'MESSAGE', 'REPLY', 'COMMENT_LIKE',
                  'MODERATION', 'REPORT_ACTIONED', 'REPORT_DISMISSED',
                  'FOLLOW_REQUEST', 'FOLLOW_REQUEST_APPROVED'));
