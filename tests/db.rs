//! The schema: migrations apply to a fresh database, and history tables
//! refuse to be edited.

mod common;

use common::TestDb;

#[tokio::test]
async fn migrations_apply_and_create_the_database() {
    let db = TestDb::new().await;
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").fetch_all(&db.pool).await.unwrap();
    for t in ["accounts", "audit_log", "claims", "denials", "ingested_files", "ledger_entries", "remittances", "service_lines", "unmatched_claims"] {
        assert!(tables.iter().any(|x| x == t), "missing table {t} in {tables:?}");
    }
    // Running again is a no-op.
    remitd::db::migrate(&db.url).await.expect("second migrate");
}

#[tokio::test]
async fn ledger_and_audit_log_are_append_only() {
    let db = TestDb::new().await;
    sqlx::query("INSERT INTO ledger_entries (kind, amount, actor) VALUES ('provider_adjustment', 1.00, 'test')").execute(&db.pool).await.unwrap();
    sqlx::query("INSERT INTO audit_log (actor, action) VALUES ('test', 'check')").execute(&db.pool).await.unwrap();
    for sql in [
        "UPDATE ledger_entries SET amount = 2",
        "DELETE FROM ledger_entries",
        // CASCADE so the refusal comes from the append-only trigger rather
        // than from the foreign keys that point at the ledger.
        "TRUNCATE ledger_entries CASCADE",
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log CASCADE",
    ] {
        let err = sqlx::query(sql).execute(&db.pool).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let amount: rust_decimal::Decimal = sqlx::query_scalar("SELECT amount FROM ledger_entries").fetch_one(&db.pool).await.unwrap();
    assert_eq!(amount.to_string(), "1.00");
}

#[tokio::test]
async fn ledger_references_are_checked_and_history_rows_cannot_be_deleted() {
    let db = TestDb::new().await;
    let err = sqlx::query("INSERT INTO ledger_entries (claim_id, kind, amount, actor) VALUES (424242, 'payment', 1.00, 'test')")
        .execute(&db.pool)
        .await
        .expect_err("dangling claim");
    assert!(err.to_string().contains("claim 424242 that does not exist"), "{err}");
    let err = sqlx::query("INSERT INTO ledger_entries (remittance_id, kind, amount, actor) VALUES (7, 'provider_adjustment', 1.00, 'test')")
        .execute(&db.pool)
        .await
        .expect_err("dangling remittance");
    assert!(err.to_string().contains("remittance 7"), "{err}");
    for (column, named) in [("reverses_entry_id", "ledger entry 99"), ("writeoff_id", "write-off 99")] {
        let sql = format!("INSERT INTO ledger_entries ({column}, kind, amount, actor) VALUES (99, 'provider_adjustment', 1.00, 'test')");
        let err = sqlx::query(&sql).execute(&db.pool).await.expect_err(column);
        assert!(err.to_string().contains(named), "{column}: {err}");
    }
    let err = sqlx::query("INSERT INTO claim_postings (remittance_id, claim_id, status_code, charge, paid) VALUES (7, 424242, '1', 0, 0)")
        .execute(&db.pool)
        .await
        .expect_err("dangling posting");
    assert!(err.to_string().contains("claim postings refer to a claim 424242"), "{err}");
    for table in ["claims", "service_lines", "remittances", "claim_postings", "writeoffs"] {
        let err = sqlx::query(&format!("DELETE FROM {table}")).execute(&db.pool).await;
        // An empty table deletes nothing, so no row trigger fires; TRUNCATE always does.
        assert!(err.is_ok(), "{table}");
        let err = sqlx::query(&format!("TRUNCATE {table} CASCADE")).execute(&db.pool).await.expect_err(table);
        assert!(err.to_string().contains("append-only"), "{table}: {err}");
    }
}

/// `remitd migrate` says what it did: a new database created and its
/// schema applied, then, run again, that nothing was left to do.
#[tokio::test]
async fn migrate_says_whether_it_created_applied_or_found_nothing_to_do() {
    let db = TestDb::new().await;
    let name: String = sqlx::query_scalar("SELECT current_database() || '_new'").fetch_one(&db.pool).await.unwrap();
    let url = remitd::db::with_database(&db.url, &name);
    let migrate = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_remitd")).arg("migrate").env("DATABASE_URL", &url).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let total = remitd::db::MIGRATOR.iter().count();
    let first = migrate();
    let second = migrate();
    sqlx::query(&format!("DROP DATABASE \"{name}\" WITH (FORCE)")).execute(&db.pool).await.unwrap();
    assert_eq!(first, (Some(0), format!("created the database and applied the schema ({total} migrations)\n")));
    assert_eq!(second, (Some(0), format!("database is up to date ({total} migrations)\n")));
}
