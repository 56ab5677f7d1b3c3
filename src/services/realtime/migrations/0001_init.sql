-- realtime: turns events into pushes on the bus. It keeps no state of its own: the platform adds
-- processed_events (so a redelivered event is not pushed twice) and dlq to this schema.
SELECT 1;
