-- Snapshots stored a chunk of records a row (store/chunks.rs): a run of records in source-id order
-- as JSON lines compressed with LZ4, under the id of its first record, with its record count and an
-- XXH3-128 hash of its text. Where a run ends depends on the records' ids alone, so a chunk whose
-- records did not change is left as it is. A row per record cost a B-tree insert per record; at
-- 100k people that was most of committing a snapshot. The rows of `source_users` and
-- `pending_users` are moved into chunks by this migration's hook, which then drops both tables.
CREATE TABLE snapshot_chunks (
    connection TEXT NOT NULL REFERENCES connections (name) ON DELETE CASCADE,
    first_id   TEXT NOT NULL,
    records    INTEGER NOT NULL,
    hash       BLOB NOT NULL,
    data       BLOB NOT NULL,
    UNIQUE (connection, first_id)
);

-- A listing a safety threshold held, in the same chunks.
CREATE TABLE pending_chunks (
    connection TEXT NOT NULL REFERENCES connections (name) ON DELETE CASCADE,
    first_id   TEXT NOT NULL,
    records    INTEGER NOT NULL,
    hash       BLOB NOT NULL,
    data       BLOB NOT NULL,
    UNIQUE (connection, first_id)
);
