-- The relay's whole step for the embedded log in one round trip instead of five (BEGIN, the
-- outbox's lock, the rows, the positions, COMMIT): under the outbox's transaction lock (one relay
-- per outbox at a time, so a key's rows keep their order), up to p_limit unpublished rows in seq
-- order get the next log positions, taken from the head row whose lock is held to commit (appenders
-- go one at a time and positions become visible in order), then one NOTIFY naming the outbox.
-- Returns how many rows were appended (0 also when another relay holds the outbox).
CREATE FUNCTION nova_events.append_outbox(p_schema text, p_limit int, p_channel text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_n int;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('nova.relay.' || p_schema)) THEN
    RETURN 0;
  END IF;
  EXECUTE format($q$
    WITH picked AS (
      SELECT o.seq, row_number() OVER (ORDER BY o.seq) AS n FROM (
        SELECT seq FROM %1$I.outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED
      ) o
    ),
    head AS (
      UPDATE nova_events.head SET position = position + (SELECT count(*) FROM picked)
       WHERE EXISTS (SELECT 1 FROM picked) RETURNING position
    ),
    marked AS (
      UPDATE %1$I.outbox o SET log_position = head.position - (SELECT count(*) FROM picked) + p.n,
             published_at = now()
        FROM head, picked p WHERE o.seq = p.seq RETURNING 1
    )
    SELECT count(*)::int FROM marked$q$, p_schema) INTO v_n USING p_limit;
  IF v_n > 0 THEN
    PERFORM pg_notify(p_channel, p_schema);
  END IF;
  RETURN v_n;
END
$$;
