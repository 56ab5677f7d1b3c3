-- Why a moderator removed a post or comment (the moderation module's ContentRemoved); "" otherwise.
ALTER TABLE content.posts ADD COLUMN deleted_reason text NOT NULL DEFAULT '';
ALTER TABLE content.comments ADD COLUMN deleted_reason text NOT NULL DEFAULT '';
