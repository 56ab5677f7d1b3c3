-- The viewer's choice to see sensitive media unblurred; blurred unless they choose.
ALTER TABLE identity.users ADD COLUMN show_sensitive_media boolean NOT NULL DEFAULT false;
