-- A post's content warning (shown in place of its text and media until opened); "" when none.
ALTER TABLE content.posts ADD COLUMN content_warning text NOT NULL DEFAULT '';
