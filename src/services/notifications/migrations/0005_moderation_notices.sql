-- Moderation's notices (issue 20 part 2): the account's owner is told of an action on it (MODERATION)
-- and each reporter of their report's outcome (REPORT_ACTIONED, REPORT_DISMISSED); the subject is the
-- action. They have no preference column, so apply_activities (0004) never turns them off.
ALTER TABLE notifications.notifications DROP CONSTRAINT notifications_type_check;
ALTER TABLE notifications.notifications ADD CONSTRAINT notifications_type_check
  CHECK (type IN ('FOLLOW', 'LIKE', 'COMMENT', 'MENTION', 'MESSAGE', 'REPLY', 'COMMENT_LIKE',
                  'MODERATION', 'REPORT_ACTIONED', 'REPORT_DISMISSED'));
