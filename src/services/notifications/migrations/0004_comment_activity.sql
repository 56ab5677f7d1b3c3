-- Comment activity (issue 20 part 7): a reply to one's comment (REPLY, grouped per comment
-- replied to), a like of one's comment (COMMENT_LIKE, per comment) and a mention in a comment
-- (MENTION with the comment as its subject), each with its preference.
ALTER TABLE notifications.preferences
  ADD COLUMN reply boolean NOT NULL DEFAULT true,
  ADD COLUMN comment_like boolean NOT NULL DEFAULT true;
ALTER TABLE notifications.notifications DROP CONSTRAINT notifications_type_check;
ALTER TABLE notifications.notifications ADD CONSTRAINT notifications_type_check
  CHECK (type IN ('FOLLOW', 'LIKE', 'COMMENT', 'MENTION', 'MESSAGE', 'REPLY', 'COMMENT_LIKE'));

-- apply_activities (0002) with the preference looked up by the type's name.
CREATE OR REPLACE FUNCTION notifications.apply_activities(
  p_ids uuid[], p_recipients uuid[], p_actors uuid[], p_types text[], p_subjects text[], p_posts uuid[],
  -- Whether a repeated activity of an actor already in the group counts (a comment does, a second like not).
  p_repeatable boolean[],
  p_window interval
) RETURNS TABLE (
  n int, o_outcome text, o_id uuid, o_actor_ids uuid[], o_actor_count int, o_activity_count int,
  o_created_at timestamptz, o_updated_at timestamptz
) LANGUAGE plpgsql AS $$
DECLARE
  v_key text;
  v_existing uuid;
  v_inserted boolean;
  v_enabled boolean;
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_recipients, 1), 0) LOOP
    n := i;
    o_id := NULL; o_actor_ids := NULL; o_actor_count := NULL; o_activity_count := NULL;
    o_created_at := NULL; o_updated_at := NULL;
    v_key := p_types[i] || ':' || p_subjects[i];
    PERFORM pg_advisory_xact_lock(hashtextextended('notifications:' || p_recipients[i]::text || ':' || v_key, 0));
    IF EXISTS (SELECT 1 FROM notifications.hidden h
               WHERE h.user_id = p_recipients[i] AND h.actor_id = p_actors[i]) THEN
      o_outcome := 'hidden';
      RETURN NEXT;
      CONTINUE;
    END IF;
    v_enabled := NULL;
    -- A type's preference is the column named as the type in lower case (COMMENT_LIKE: comment_like),
    -- so a new type needs a column, not a new version of this function.
    SELECT (to_jsonb(p) ->> lower(p_types[i]))::boolean
      INTO v_enabled FROM notifications.preferences p WHERE p.user_id = p_recipients[i];
    IF v_enabled IS FALSE THEN
      o_outcome := 'disabled';
      RETURN NEXT;
      CONTINUE;
    END IF;
    v_existing := NULL;
    SELECT x.id INTO v_existing FROM notifications.notifications x
      WHERE x.user_id = p_recipients[i] AND x.group_key = v_key AND x.read_at IS NULL
        AND x.created_at > now() - p_window
      ORDER BY x.created_at DESC LIMIT 1 FOR UPDATE;
    IF v_existing IS NULL THEN
      INSERT INTO notifications.notifications AS x
          (id, user_id, type, subject_id, post_id, group_key, actor_ids, actor_count)
        VALUES (p_ids[i], p_recipients[i], p_types[i], p_subjects[i], p_posts[i], v_key, ARRAY[p_actors[i]], 1)
        RETURNING x.id, x.actor_ids, x.actor_count, x.activity_count, x.created_at, x.updated_at
        INTO o_id, o_actor_ids, o_actor_count, o_activity_count, o_created_at, o_updated_at;
      -- Clock time, not the transaction's: a consumer applies a whole batch in one transaction.
      INSERT INTO notifications.notification_actors (notification_id, actor_id, user_id, acted_at)
        VALUES (p_ids[i], p_actors[i], p_recipients[i], clock_timestamp());
      o_outcome := 'created';
    ELSE
      v_inserted := NULL;
      INSERT INTO notifications.notification_actors AS a (notification_id, actor_id, user_id, acted_at)
        VALUES (v_existing, p_actors[i], p_recipients[i], clock_timestamp())
        ON CONFLICT (notification_id, actor_id) DO UPDATE SET acted_at = clock_timestamp()
          WHERE p_repeatable[i]
        RETURNING (a.xmax = 0) INTO v_inserted;
      IF v_inserted IS NULL THEN
        o_outcome := 'duplicate_actor';
        RETURN NEXT;
        CONTINUE;
      END IF;
      UPDATE notifications.notifications x SET
          actor_count = x.actor_count + CASE WHEN v_inserted THEN 1 ELSE 0 END,
          activity_count = x.activity_count + 1,
          actor_ids = ARRAY(SELECT a.actor_id FROM notifications.notification_actors a
            WHERE a.notification_id = v_existing ORDER BY a.acted_at DESC, a.actor_id LIMIT 3),
          seq = nextval('notifications.notification_seq'),
          updated_at = clock_timestamp()
        WHERE x.id = v_existing
        RETURNING x.id, x.actor_ids, x.actor_count, x.activity_count, x.created_at, x.updated_at
        INTO o_id, o_actor_ids, o_actor_count, o_activity_count, o_created_at, o_updated_at;
      o_outcome := CASE WHEN v_inserted THEN 'grouped' ELSE 'repeated' END;
    END IF;
    RETURN NEXT;
  END LOOP;
END
$$;
