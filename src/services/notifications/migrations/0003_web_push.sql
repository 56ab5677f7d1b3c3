-- Web Push (RFC 8030/8291): a browser's subscription is a device whose token is its endpoint URL,
-- with the keys the payload is encrypted to.
ALTER TABLE notifications.push_tokens DROP CONSTRAINT push_tokens_platform_check;
ALTER TABLE notifications.push_tokens ADD CONSTRAINT push_tokens_platform_check
  CHECK (platform IN ('APNS', 'FCM', 'WEB'));
ALTER TABLE notifications.push_tokens ADD COLUMN p256dh text, ADD COLUMN auth text;
ALTER TABLE notifications.push_tokens ADD CONSTRAINT push_tokens_web_keys
  CHECK ((platform = 'WEB') = (p256dh IS NOT NULL AND auth IS NOT NULL));
