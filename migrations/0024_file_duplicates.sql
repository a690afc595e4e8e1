-- A file whose bytes were ingested before is archived and posts nothing;
-- support wants to see that it came again (a clearinghouse re-sending a
-- day's files is worth a question). Counted on the first file's row.
ALTER TABLE ingested_files ADD COLUMN duplicates INT NOT NULL DEFAULT 0;
ALTER TABLE ingested_files ADD COLUMN last_duplicate_at TIMESTAMPTZ;
