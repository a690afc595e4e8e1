//! A killed ingest leaves each transaction set fully posted or not at all,
//! and feeding the same file again completes it without posting anything
//! twice. Runs the real binary against a real database and kills it with
//! SIGKILL part way through.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::TestDb;

const TRANSACTIONS: i64 = 60;
const CLAIMS: i64 = 400;

fn remitd(db: &TestDb) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_remitd"));
    cmd.env("DATABASE_URL", &db.url).stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

async fn scalar(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.expect(sql)
}

/// Remittances whose claim postings are not all there.
async fn partial(db: &TestDb) -> i64 {
    scalar(db, &format!("SELECT count(*) FROM remittances r WHERE (SELECT count(*) FROM claim_postings p WHERE p.remittance_id = r.id) <> {CLAIMS}")).await
}

#[tokio::test]
async fn kill_during_ingest_then_refeed_posts_everything_exactly_once() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.835");
    let csv = dir.path().join("claims.csv");
    let status = remitd(&db)
        .args(["generate", "--transactions", &TRANSACTIONS.to_string(), "--claims-per-transaction", &CLAIMS.to_string(), "-o"])
        .arg(&file)
        .arg("--claims-csv")
        .arg(&csv)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(remitd(&db).args(["claims", "import"]).arg(&csv).status().unwrap().success());

    let mut child = remitd(&db).arg("ingest").arg(&file).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = 0;
    while seen < 2 && Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        seen = scalar(&db, "SELECT count(*) FROM remittances").await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let at_kill = scalar(&db, "SELECT count(*) FROM remittances").await;
    assert!(at_kill < TRANSACTIONS, "the ingest finished before it could be killed; make the file larger");
    assert_eq!(partial(&db).await, 0, "a transaction set was half-posted");
    let file_state: String = sqlx::query_scalar("SELECT state FROM ingested_files").fetch_one(&db.pool).await.unwrap();
    assert_eq!(file_state, "processing");

    // Feeding the same file again picks up where it stopped.
    assert!(remitd(&db).arg("ingest").arg(&file).status().unwrap().success());
    assert_eq!(scalar(&db, "SELECT count(*) FROM remittances").await, TRANSACTIONS);
    assert_eq!(partial(&db).await, 0);
    assert_eq!(scalar(&db, "SELECT count(*) FROM claim_postings").await, TRANSACTIONS * CLAIMS);
    assert_eq!(scalar(&db, "SELECT count(DISTINCT claim_id) FROM claim_postings").await, TRANSACTIONS * CLAIMS, "no claim posted twice");
    let file_state: String = sqlx::query_scalar("SELECT state FROM ingested_files").fetch_one(&db.pool).await.unwrap();
    assert_eq!(file_state, "posted");
    // And a third time posts nothing.
    let before = scalar(&db, "SELECT count(*) FROM ledger_entries").await;
    assert!(remitd(&db).arg("ingest").arg(&file).status().unwrap().success());
    assert_eq!(scalar(&db, "SELECT count(*) FROM ledger_entries").await, before);
}
