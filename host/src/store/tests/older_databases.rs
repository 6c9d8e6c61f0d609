//! Databases made by older versions of roster: migrated, their data kept, their pages as they were.

use super::*;

#[test]
fn people_stored_a_row_each_are_moved_into_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.db");
    let listed = users(500);
    let people = resolve(
        &[Snapshot { connection: "hr", users: &listed }],
        &Policy { sources: vec!["hr".into()], ..Policy::default() },
        &[],
    );
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        migrations().to_version(&mut conn, 4).unwrap();
        for p in people.iter().rev() {
            conn.execute(
                "INSERT INTO people (key, lifecycle, email, employee_id, data) VALUES (?1, ?2, lower(?3), NULL, ?4)",
                params![p.key.as_str(), p.lifecycle.as_str(), p.email.as_deref(), serde_json::to_string(p).unwrap()],
            )
            .unwrap();
        }
    }
    let store = open(&path).unwrap();
    let mut moved = store.people().unwrap();
    moved.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(moved, people);
    assert_eq!(store.find_people("u123@acme.com").unwrap().len(), 1);
    let old: i64 =
        store.conn.query_row("SELECT count(*) FROM sqlite_master WHERE tbl_name = 'people'", [], |r| r.get(0)).unwrap();
    assert_eq!(old, 0, "the table and its indexes are gone");
}

#[test]
fn a_new_database_has_large_pages_and_an_old_one_keeps_its_own() {
    let page_size = |store: &Store| -> i64 { store.conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap() };
    let (_dir, store) = temp_store();
    assert_eq!(page_size(&store), 16_384);

    // A database made before (4 KiB pages, WAL) opens as it is, and its data stays readable.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x); DROP TABLE t;")
            .unwrap();
    }
    let store = open(&path).unwrap();
    assert_eq!(page_size(&store), 4096);
    sync(&store, &[&users(3)], 100.0, false);
    assert_eq!(store.snapshot("hr").unwrap().unwrap().len(), 3);
}

#[test]
fn a_snapshot_stored_a_row_per_record_is_moved_into_chunks() {
    // A database as migration 003 left it, with a snapshot and a held listing a row per record.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.db");
    let mut listed: Vec<SourceUser> = (0..3000).map(|i| user(&format!("u{i:04}"), EmploymentStatus::Active)).collect();
    listed[5].role = Some("Controller \"CFO\"\nand treasurer".into());
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        migrations().to_version(&mut conn, 3).unwrap();
        conn.execute_batch(
            "INSERT INTO connections (name, connector, last_success_at, users, snapshot_version, pending_at, pending_users)
             VALUES ('hr', 'ukg-pro', '2026-11-01T00:00:00.000Z', 3000, 4, '2026-11-02T00:00:00.000Z', 2)",
        )
        .unwrap();
        // Inserted out of order: the rows' order is the table's, not the insertion's.
        for u in listed.iter().rev() {
            let data = serde_json::to_string(u).unwrap();
            conn.execute(
                "INSERT INTO source_users (connection, source_id, hash, data) VALUES ('hr', ?1, ?2, ?3)",
                params![u.source_id.as_str(), content_hash(&data), data],
            )
            .unwrap();
        }
        for u in &listed[..2] {
            conn.execute(
                "INSERT INTO pending_users (connection, source_id, data) VALUES ('hr', ?1, ?2)",
                params![u.source_id.as_str(), serde_json::to_string(u).unwrap()],
            )
            .unwrap();
        }
    }
    let store = open(&path).unwrap();
    assert_eq!(store.snapshot("hr").unwrap().unwrap(), listed);
    assert_eq!(store.pending_snapshot("hr").unwrap().unwrap(), &listed[..2]);
    assert!(chunks_stored(&store) > 1, "cut into runs as a sync cuts them");
    let old_tables: i64 = store
        .conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE name IN ('source_users', 'pending_users')", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(old_tables, 0, "the tables of rows are gone");

    // The chunks are the ones a sync writes: the same listing again changes nothing.
    count_writes(&store);
    assert_eq!(sync(&store, &[&listed], 20.0, false), Commit::Replaced { users: 3000, records_changed: 0 });
    assert_eq!(writes(&store), 0);
    assert_eq!(store.snapshot_versions().unwrap()[0].version, 4, "the data did not change");
}
