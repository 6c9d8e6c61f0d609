-- Each connection's sync status.
CREATE TABLE connections (
    name            TEXT PRIMARY KEY,
    connector       TEXT NOT NULL,
    last_sync_at    TEXT,
    last_outcome    TEXT,
    last_error      TEXT,
    last_success_at TEXT,
    users           INTEGER
);

-- Each connection's last complete snapshot: one row per source user, the mapped SourceUser as
-- JSON and a hash of it, so an unchanged row is never rewritten.
CREATE TABLE source_users (
    connection TEXT NOT NULL,
    source_id  TEXT NOT NULL,
    hash       INTEGER NOT NULL,
    data       TEXT NOT NULL,
    PRIMARY KEY (connection, source_id)
) WITHOUT ROWID;

-- The resolved people.
CREATE TABLE people (
    key       TEXT PRIMARY KEY,
    lifecycle TEXT NOT NULL,
    email     TEXT,
    data      TEXT NOT NULL
);
CREATE INDEX people_by_email ON people (email, key);
CREATE INDEX people_by_lifecycle ON people (lifecycle, email, key);

-- What changed, when.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    person     TEXT NOT NULL,
    email      TEXT,
    decided_by TEXT,
    data       TEXT NOT NULL
);
CREATE INDEX events_by_time ON events (at);

-- The lifecycle policy the people were resolved with.
CREATE TABLE policy (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    applied_at TEXT NOT NULL,
    data       TEXT NOT NULL
);

-- Small facts: when people were last resolved.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
