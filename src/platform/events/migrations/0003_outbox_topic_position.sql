-- A log consumer's lag (nova_consumer_log_lag_events) counts its own topics' rows after its offset:
-- with this index that is a probe per topic, not a scan of every other topic's rows since the offset.
-- Partial, like outbox_log_position: it stays empty under the Kafka transport.
CREATE INDEX outbox_topic_log_position ON {{schema}}.outbox (topic, log_position) WHERE log_position IS NOT NULL;
