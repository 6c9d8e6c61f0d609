-- People stored a chunk a row (store/people_chunks.rs): runs of people in listing order (by
-- lowercase primary email, people without one last, then key) as JSON lines, under the listing key
-- of the first, compressed with LZ4, with how many of each lifecycle the run holds and an XXH3-128
-- hash of its text. A row per person with three indexes cost a B-tree insert per person and index.
-- The rows of `people` are moved into chunks by this migration's hook, which then drops the table
-- (and its indexes).
CREATE TABLE people_chunks (
    first    TEXT NOT NULL UNIQUE,
    people   INTEGER NOT NULL,
    current  INTEGER NOT NULL,
    past     INTEGER NOT NULL,
    external INTEGER NOT NULL,
    orphan   INTEGER NOT NULL,
    hash     BLOB NOT NULL,
    data     BLOB NOT NULL
);
