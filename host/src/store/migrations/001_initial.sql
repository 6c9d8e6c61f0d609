-- Each connection's sync status: the last attempt (`ok`, `failed` or `held`) and the last
-- complete snapshot (`last_success_at`, `users`). A connection without `last_success_at` has no
-- snapshot yet, which is not the same as an empty one.
CREATE TABLE connections (
    name            TEXT PRIMARY KEY,
    connector       TEXT NOT NULL,
    last_sync_at    TEXT,
    last_outcome    TEXT CHECK (last_outcome IN ('ok', 'failed', 'held')),
    last_error      TEXT,
    last_success_at TEXT,
    users           INTEGER
);

-- Each connection's last complete snapshot: one row per source user, the mapped SourceUser as
-- JSON and a hash of it, so an unchanged row is never rewritten.
CREATE TABLE source_users (
    connection TEXT NOT NULL REFERENCES connections (name) ON DELETE CASCADE,
    source_id  TEXT NOT NULL,
    hash       INTEGER NOT NULL,
    data       TEXT NOT NULL,
    PRIMARY KEY (connection, source_id)
) WITHOUT ROWID;

-- The resolved people: the lifecycle Person as JSON, with the columns people are listed by.
-- `email` is lowercase so that listing order ignores case.
CREATE TABLE people (
    key       TEXT PRIMARY KEY,
    lifecycle TEXT NOT NULL,
    email     TEXT,
    data      TEXT NOT NULL
);
CREATE INDEX people_by_email ON people (email, key);
CREATE INDEX people_by_lifecycle ON people (lifecycle, email, key);

-- What changed, when: `joined`, `left`, `rejoined`, `moved`, with the person's state before and
-- after (lifecycle, role, department) as JSON.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    person     TEXT NOT NULL,
    email      TEXT,
    decided_by TEXT,
    before     TEXT NOT NULL,
    after      TEXT NOT NULL
);
CREATE INDEX events_by_time ON events (at);
CREATE INDEX events_by_person ON events (person, at);

-- The lifecycle policy the people were resolved with.
CREATE TABLE policy (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    applied_at TEXT NOT NULL,
    data       TEXT NOT NULL
);

-- Small facts: when people were last resolved (`resolved_at`), from which connections
-- (`resolved_connections`, JSON), and whether a snapshot changed since (`stale`).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
