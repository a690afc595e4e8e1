//! A killed ingest leaves each transaction set fully posted or not at all
//! (and a killed sweep each balance written off or untouched),
//! and feeding the same file again completes it without posting anything
//! twice. Runs the real binary against a real database and kills it with
//! SIGKILL part way through.

mod common;

use remitd::actors::Scope;

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

/// A synthetic file `name` in `dir` of [`TRANSACTIONS`] sets of [`CLAIMS`]
/// claims, its claims imported, through the real command line.
fn generated_and_imported(db: &TestDb, dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let (file, csv) = (dir.join(name), dir.join("claims.csv"));
    let status = remitd(db)
        .args(["generate", "--transactions", &TRANSACTIONS.to_string(), "--claims-per-transaction", &CLAIMS.to_string(), "-o"])
        .arg(&file)
        .arg("--claims-csv")
        .arg(&csv)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(remitd(db).args(["claims", "import"]).arg(&csv).status().unwrap().success());
    file
}

/// Remittances whose claim postings are not all there.
async fn partial(db: &TestDb) -> i64 {
    scalar(db, &format!("SELECT count(*) FROM remittances r WHERE (SELECT count(*) FROM claim_postings p WHERE p.remittance_id = r.id) <> {CLAIMS}")).await
}

#[tokio::test]
async fn kill_during_ingest_then_refeed_posts_everything_exactly_once() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = generated_and_imported(&db, dir.path(), "big.835");

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
    // Nobody holds it once the server has seen the killed connection go:
    // the daemon's look at start (and after an outage) records it as
    // partial, naming each set that posted.
    let deadline = Instant::now() + Duration::from_secs(20);
    while remitd::ingest::settle_abandoned(&db.pool).await.unwrap() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (file_state, reason): (String, String) = sqlx::query_as("SELECT state, refusal_reason FROM ingested_files").fetch_one(&db.pool).await.unwrap();
    assert_eq!(file_state, if at_kill == 0 { "refused" } else { "partial" });
    assert_eq!(reason.matches("(trace ").count() as i64, at_kill, "{reason}");
    assert!(reason.starts_with("the process ingesting it ended part way"), "{reason}");

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

/// Claims in the sweep fixture, and the small balances among them.
const SWEEP_CLAIMS: i64 = 200_000;
const SWEEP_ELIGIBLE: i64 = SWEEP_CLAIMS / 10;

/// Write-offs of a sweep that lack their ledger entry or audit row.
async fn incomplete_writeoffs(db: &TestDb) -> i64 {
    scalar(
        db,
        "SELECT count(*) FROM writeoffs w
         WHERE w.ledger_entry_id IS NULL OR w.status <> 'POSTED'
            OR NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.writeoff_id = w.id AND a.action = 'writeoff_posted')",
    )
    .await
}

/// A sweep killed while it writes leaves every balance either written off
/// with its ledger entry and audit row, or untouched; posting again
/// finishes the job once.
#[tokio::test]
async fn kill_during_sweep_post_leaves_each_balance_whole() {
    let db = TestDb::new().await;
    let fixture = include_str!("fixtures/sweep_balances.sql");
    for sql in fixture.split("\n\n").filter(|s| !s.trim_start().starts_with("--")) {
        sqlx::query(sql).bind(SWEEP_CLAIMS).execute(&db.pool).await.expect(sql);
    }
    db.people(&[("sue", &[Scope::DenialWrite, Scope::WriteoffApprove])]).await;
    let sweep = |db: &TestDb| {
        let mut cmd = remitd(db);
        cmd.args(["sweep", "--post", "--from", "2026-06-01", "--to", "2026-06-30", "--as-of", "2026-07-01", "--days-since-billed", "90"]).args([
            "--insurance-code",
            "w",
            "--patient-code",
            "W",
            "--max-amount",
            "10",
            "--actor",
            "sue",
        ]);
        cmd
    };
    let mut child = sweep(&db).spawn().unwrap();
    // Kill it once it holds the ledger lock: it is then inside its transaction.
    let holds_lock = "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                      WHERE c.relname = 'ledger_entries' AND l.mode = 'ShareRowExclusiveLock' AND l.granted";
    let deadline = Instant::now() + Duration::from_secs(60);
    while scalar(&db, holds_lock).await == 0 && child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(Duration::from_millis(fastrand::u64(0..300))).await;
    child.kill().unwrap();
    child.wait().unwrap();
    // The server rolls back the killed session's transaction once it notices.
    let deadline = Instant::now() + Duration::from_secs(30);
    while scalar(&db, holds_lock).await > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (writeoffs, runs) = (scalar(&db, "SELECT count(*) FROM writeoffs").await, scalar(&db, "SELECT count(*) FROM sweep_runs").await);
    assert!((writeoffs, runs) == (0, 0) || (writeoffs, runs) == (SWEEP_ELIGIBLE, 1), "half a run survived: {writeoffs} write-offs, {runs} runs");
    assert_eq!(incomplete_writeoffs(&db).await, 0);

    assert!(sweep(&db).status().unwrap().success());
    assert_eq!(scalar(&db, "SELECT count(*) FROM writeoffs").await, SWEEP_ELIGIBLE, "each small balance written off once");
    assert_eq!(scalar(&db, "SELECT count(*) FROM sweep_runs").await, 1);
    assert_eq!(incomplete_writeoffs(&db).await, 0);
    let left = "SELECT count(*) FROM claim_owed WHERE insurance_balance BETWEEN 0.01 AND 10 OR patient_balance BETWEEN 0.01 AND 10";
    assert_eq!(scalar(&db, left).await, 0, "no small balance left");
}

/// A file the process dies on (killed while it posts, as the kernel does
/// when memory runs out) is tried again, but after the second death it is
/// refused with the reason, so it cannot keep every file behind it waiting;
/// what posted stays posted and is named.
#[tokio::test]
async fn a_file_that_kills_its_reader_twice_is_refused_the_third_time() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = generated_and_imported(&db, dir.path(), "deadly.835");
    for death in 1..=2i64 {
        let before = scalar(&db, "SELECT count(*) FROM remittances").await;
        let mut child = remitd(&db).arg("ingest").arg(&file).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        while scalar(&db, "SELECT count(*) FROM remittances").await <= before && Instant::now() < deadline {
            assert!(child.try_wait().unwrap().is_none(), "the ingest finished before it could be killed; make the file larger");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // What the daemon does at its next start, once the server has seen
        // the killed connection go (and its lock with it).
        let deadline = Instant::now() + Duration::from_secs(20);
        while remitd::ingest::settle_abandoned(&db.pool).await.unwrap() == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(scalar(&db, "SELECT abandoned::bigint FROM ingested_files").await, death);
    }
    let out = remitd(&db).arg("ingest").arg(&file).stdout(Stdio::piped()).stderr(Stdio::piped()).output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("the process ingesting this file ended 2 times part way"), "{said}");
    let (state, abandoned): (String, i32) = sqlx::query_as("SELECT state, abandoned FROM ingested_files").fetch_one(&db.pool).await.unwrap();
    assert_eq!((state.as_str(), abandoned), ("partial", 0), "refused, and tried again if dropped again");
    assert_eq!(partial(&db).await, 0, "no transaction set half-posted");
    // Dropped in again (after a fix), it is tried and completes.
    assert!(remitd(&db).arg("ingest").arg(&file).status().unwrap().success());
    assert_eq!(scalar(&db, "SELECT count(*) FROM remittances").await, TRANSACTIONS);
}
