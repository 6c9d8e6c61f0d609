-- People are listed in email order by one index that also carries the lifecycle: a filtered
-- listing (`roster users --lifecycle past`) checks each entry's lifecycle in the index and reads
-- a person's row only when it matches. The second index, ordered by lifecycle first, was sorted
-- and written again whenever a resolution rewrote most people (about 2 s of writing a million).
DROP INDEX people_by_lifecycle;
DROP INDEX people_by_email;
CREATE INDEX people_by_email ON people (email, key, lifecycle);
