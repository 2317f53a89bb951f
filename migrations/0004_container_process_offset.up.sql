-- Where the engine is in a task's output: the offset to attach from after a web restart.
-- Written in the same statement as the log event that carried the output, so the log and
-- the offset never disagree.
ALTER TABLE containers ADD COLUMN process_offset bigint NOT NULL DEFAULT 0;
