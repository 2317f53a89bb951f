-- A finished build's events, compacted: each row holds a run of events (ids first..last)
-- as zstd-compressed JSON lines, in place of their one-row-per-event build_events rows.
CREATE TABLE build_event_chunks (
  build_id bigint NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
  first_event_id integer NOT NULL,
  last_event_id integer NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (build_id, first_event_id)
);

-- Set when retention removed the build's events.
ALTER TABLE builds ADD COLUMN logs_reaped boolean NOT NULL DEFAULT false;
