-- Uploaded media of plaintext messages: [{mediaId, alt}] in order (media's ids; the media service
-- holds the files and checks, in AttachMedia, that they are the sender's own READY media).
ALTER TABLE messaging.messages ADD COLUMN attachments jsonb NOT NULL DEFAULT '[]'::jsonb;
-- A plaintext message has text or media (0001's "ciphertext IS NOT NULL OR text <> ''", named by
-- PostgreSQL messages_check2); an encrypted one never has media.
ALTER TABLE messaging.messages
  DROP CONSTRAINT messages_check2,
  ADD CONSTRAINT messages_has_content CHECK (ciphertext IS NOT NULL OR text <> '' OR attachments <> '[]'::jsonb),
  ADD CONSTRAINT messages_encrypted_without_media CHECK (ciphertext IS NULL OR attachments = '[]'::jsonb);

-- send_message with the attachments (an overload: the 11-argument function of 0002 stays for a
-- process of the previous release during a rolling deploy). Otherwise as in 0002.
CREATE FUNCTION messaging.send_message(
  p_conversation uuid, p_sender uuid, p_client_message_id text, p_text text, p_ciphertext bytea, p_key_id uuid,
  p_message_id uuid, p_created_at timestamptz, p_event_id uuid, p_topic text, p_envelope jsonb, p_attachments jsonb
) RETURNS TABLE (
  outcome text, id uuid, conversation_id uuid, seq bigint, sender_id uuid, client_message_id text, text text,
  ciphertext bytea, key_id uuid, created_at timestamptz, attachments jsonb
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_last bigint;
  v_activity bigint;
  v_recipients text[];
BEGIN
  SELECT c.last_seq INTO v_last
    FROM messaging.conversations c
    JOIN messaging.members m ON m.conversation_id = c.id AND m.user_id = p_sender AND m.left_at IS NULL
   WHERE c.id = p_conversation FOR UPDATE OF c;
  IF NOT FOUND THEN
    outcome := 'not_member';
    RETURN NEXT;
    RETURN;
  END IF;
  INSERT INTO messaging.messages AS msg
      (id, conversation_id, seq, sender_id, client_message_id, text, ciphertext, key_id, created_at, attachments)
    VALUES (p_message_id, p_conversation, v_last + 1, p_sender, p_client_message_id, p_text, p_ciphertext,
      p_key_id, p_created_at, p_attachments)
    ON CONFLICT (conversation_id, sender_id, client_message_id) DO NOTHING;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'exists', msg.id, msg.conversation_id, msg.seq, msg.sender_id, msg.client_message_id,
        msg.text, msg.ciphertext, msg.key_id, msg.created_at, msg.attachments
      FROM messaging.messages msg
     WHERE msg.conversation_id = p_conversation AND msg.sender_id = p_sender
       AND msg.client_message_id = p_client_message_id;
    RETURN;
  END IF;
  UPDATE messaging.conversations c SET last_activity_at = now(), last_seq = v_last + 1, last_message_id = p_message_id
   WHERE c.id = p_conversation;
  v_activity := nextval('messaging.activity_seq');
  WITH touched AS (
    UPDATE messaging.members m SET activity_seq = v_activity
     WHERE m.conversation_id = p_conversation AND m.left_at IS NULL
    RETURNING m.user_id
  )
  SELECT coalesce(array_agg(t.user_id::text) FILTER (WHERE t.user_id <> p_sender), '{}') INTO v_recipients
    FROM touched t;
  INSERT INTO messaging.outbox (id, topic, key, envelope)
    VALUES (p_event_id, p_topic, p_conversation::text,
      jsonb_set(p_envelope, '{payload,recipientIds}', to_jsonb(v_recipients)));
  RETURN QUERY SELECT 'created', p_message_id, p_conversation, v_last + 1, p_sender, p_client_message_id, p_text,
    p_ciphertext, p_key_id, p_created_at, p_attachments;
END
$$;
