-- Every snapshot that changes gets a new version, so that a plan made by `roster preview` can
-- tell whether the data it was made on is still the data (`roster apply plan.json`).
ALTER TABLE connections ADD COLUMN snapshot_version INTEGER NOT NULL DEFAULT 0;
UPDATE connections SET snapshot_version = 1 WHERE last_success_at IS NOT NULL;

-- A listing a safety threshold held (`max_snapshot_drop_percent`): kept beside the snapshot in
-- force, never used by the lifecycle, replaced by the next listing and cleared when a listing
-- is accepted. Nothing a vendor sent is lost.
ALTER TABLE connections ADD COLUMN pending_at TEXT;
ALTER TABLE connections ADD COLUMN pending_users INTEGER;
CREATE TABLE pending_users (
    connection TEXT NOT NULL REFERENCES connections (name) ON DELETE CASCADE,
    source_id  TEXT NOT NULL,
    data       TEXT NOT NULL,
    PRIMARY KEY (connection, source_id)
) WITHOUT ROWID;

-- Every resolution that changed people: when, by which command, whether forced through a safety
-- threshold, and the policy it ran (JSON). Events point at the run that recorded them.
CREATE TABLE runs (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    command TEXT NOT NULL CHECK (command IN ('sync', 'apply')),
    forced  INTEGER NOT NULL,
    policy  TEXT NOT NULL,
    people  INTEGER NOT NULL,
    events  INTEGER NOT NULL
);
ALTER TABLE events ADD COLUMN run INTEGER REFERENCES runs (id);

-- People are found by employee id too (`roster explain E123`), lowercase like `email`.
ALTER TABLE people ADD COLUMN employee_id TEXT;
UPDATE people SET employee_id = lower(json_extract(data, '$.employee_id'));
CREATE INDEX people_by_employee_id ON people (employee_id);
