//! Bank drop folders end to end: the real daemon, real folders, a real
//! PostgreSQL. A bank's daily file dropped in a `kind = "bank"` folder is
//! stored once and archived, or refused to error/ with its line and column;
//! deposits are matched with their remittances whichever arrives first.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::daemon::{http_get, wait_until, Daemon, Folder};
use common::{sample, sample_claims_except, TestDb};

/// The account number in the sample bank files: never in a log.
const ACCOUNT: &str = "333444";

fn bank_sample(name: &str) -> PathBuf {
    sample(&format!("bank/{name}"))
}

async fn scalar(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.expect(sql)
}

/// The daemon on `url` with `bank` as its bank folder ("acme"), and
/// `remittances`, when given, as an 835 folder ("remits").
fn spawn(url: &str, bank: &Folder, remittances: Option<&Folder>) -> Daemon {
    let second = remittances.map(|f| f.table("remits", "settle_secs = 0.2\n")).unwrap_or_default();
    Daemon::spawn_configured(url, bank, &format!("kind = \"bank\"\nsettle_secs = 0.2\n{second}"), &[])
}

fn assert_no_account_numbers(daemon: &Daemon) {
    let log = daemon.log();
    assert!(!log.contains(ACCOUNT), "the log quotes an account number: {log}");
}

#[tokio::test]
async fn a_bank_folder_stores_the_days_deposits_and_archives_the_file() {
    let db = TestDb::new().await;
    let bank = Folder::new();
    let daemon = spawn(&db.url, &bank, None);
    daemon.ready().await;
    bank.drop_renamed(&bank_sample("daily.ach"), "daily.ach");
    wait_until("the bank file archived", Duration::from_secs(20), async || bank.archived().len() == 1).await;
    assert!(bank.errors().is_empty() && bank.in_inbox().is_empty(), "{:?}\n{}", bank.errors(), daemon.log());
    assert_eq!(std::fs::read(&bank.archived()[0]).unwrap(), std::fs::read(bank_sample("daily.ach")).unwrap(), "archived whole");
    let stored: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT amount::text, trace_number FROM deposits ORDER BY id").fetch_all(&db.pool).await.unwrap();
    assert_eq!(stored, [("253.40".into(), Some("EFT-20240115-0001".into())), ("627.50".into(), Some("EFT-20240212-0004".into())), ("12.50".into(), None)]);
    let (name, state): (String, String) = sqlx::query_as("SELECT file_name, state FROM bank_files").fetch_one(&db.pool).await.unwrap();
    assert_eq!((name.as_str(), state.as_str()), ("daily.ach", "read"));
    assert_eq!(scalar(&db, "SELECT count(*) FROM ingested_files").await, 0, "not taken for an 835");
    let log = daemon.log();
    assert!(log.contains("bank file read") && log.contains("\"deposits\":3") && log.contains("\"matched\":0"), "{log}");
    let metrics = http_get(daemon.http, "/metrics").unwrap().1;
    assert!(metrics.contains("remitd_files_ingested_total{folder=\"acme\"} 1"), "{metrics}");
    assert_no_account_numbers(&daemon);
}

#[tokio::test]
async fn the_same_bank_file_dropped_twice_is_stored_once() {
    let db = TestDb::new().await;
    let bank = Folder::new();
    let daemon = spawn(&db.url, &bank, None);
    daemon.ready().await;
    bank.drop_renamed(&bank_sample("statement.bai"), "statement.bai");
    wait_until("the statement archived", Duration::from_secs(20), async || bank.archived().len() == 1).await;
    bank.drop_renamed(&bank_sample("statement.bai"), "statement-again.bai");
    wait_until("the copy archived", Duration::from_secs(20), async || bank.archived().len() == 2).await;
    assert!(bank.errors().is_empty(), "a duplicate is not a refusal: {:?}", bank.errors());
    assert_eq!(scalar(&db, "SELECT count(*) FROM deposits").await, 3, "stored once");
    assert_eq!(scalar(&db, "SELECT count(*) FROM bank_files").await, 1);
    assert!(daemon.log().contains("duplicate of a bank file read before"), "{}", daemon.log());
    let metrics = http_get(daemon.http, "/metrics").unwrap().1;
    assert!(metrics.contains("remitd_files_duplicate_total{folder=\"acme\"} 1"), "{metrics}");
}

/// A file that does not add up, in either format, goes to error/ with the
/// line and column of what is wrong beside it, and stores nothing; the log
/// says where too, never what the field held. An 835 dropped in a bank
/// folder is refused as a bank file, never posted.
#[tokio::test]
async fn a_damaged_bank_file_goes_to_error_with_its_line_and_column() {
    let db = TestDb::new().await;
    common::import_csv(&db.pool, &sample_claims_except(&[])).await;
    let bank = Folder::new();
    let daemon = spawn(&db.url, &bank, None);
    daemon.ready().await;
    bank.drop_renamed(&bank_sample("bad-entry-hash.ach"), "bad.ach");
    bank.drop_renamed(&bank_sample("bad-account-total.bai"), "bad.bai");
    bank.drop_renamed(&sample("valid/paid-claims.835"), "lost.835");
    wait_until("the three files refused", Duration::from_secs(20), async || bank.errors().len() == 6).await;
    assert!(bank.archived().is_empty() && bank.in_inbox().is_empty());
    let reason = |name: &str| std::fs::read_to_string(bank.root.join("error").join(format!("{name}.reason.txt"))).unwrap();
    let ach = reason("bad.ach");
    assert!(ach.starts_with("refused: line 5, column 11: the entry hash is 100000000"), "{ach}");
    assert!(ach.contains("file: bad.ach") && ach.contains("no deposit from this file was stored"), "{ach}");
    assert!(!ach.contains("posted"), "a bank file posts nothing: {ach}");
    let bai = reason("bad.bai");
    assert!(bai.starts_with("refused: line 8, column 4: the account control total is 1093301"), "{bai}");
    assert!(reason("lost.835").starts_with("refused: line 1, column 1: this is an X12 interchange (an 835?)"), "{}", reason("lost.835"));
    assert_eq!(scalar(&db, "SELECT count(*) FROM deposits").await, 0);
    assert_eq!(scalar(&db, "SELECT count(*) FROM bank_files WHERE state = 'refused' AND refusal_reason LIKE 'line %, column %'").await, 3);
    assert_eq!(scalar(&db, "SELECT count(*) FROM remittances").await, 0, "an 835 in a bank folder is not posted");
    let log = daemon.log();
    assert!(log.contains("bank file refused") && log.contains("\"line\":5") && log.contains("\"column\":11"), "{log}");
    let metrics = http_get(daemon.http, "/metrics").unwrap().1;
    assert!(metrics.contains("remitd_files_refused_total{folder=\"acme\"} 3"), "{metrics}");
    assert_no_account_numbers(&daemon);
}

/// Money and remittances arrive in either order: a remittance posted
/// before its deposit is matched when the bank file is read, and a deposit
/// read before its remittance is matched when the 835 posts. The daemon
/// runs on its own login, as installed (`remitd migrate --daemon`).
#[tokio::test]
async fn deposits_are_matched_whichever_of_money_and_remittance_comes_first() {
    let db = TestDb::new().await;
    common::import_csv(&db.pool, &sample_claims_except(&[])).await;
    let login = db.bare_login_role("daemon").await;
    let out = Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", &db.url).args(["migrate", "--daemon", &login.name]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (bank, remits) = (Folder::new(), Folder::new());
    let daemon = spawn(&login.url, &bank, Some(&remits));
    daemon.ready().await;
    let matched = async |trace: &str| -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM reassociations x JOIN deposits d ON d.id = x.deposit_id JOIN remittances r ON r.id = x.remittance_id
             WHERE d.trace_number = $1 AND r.trace_number = $1 AND x.how = 'trace'",
        )
        .bind(trace)
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };

    remits.drop_renamed(&sample("valid/provider-adjustments.835"), "early.835");
    wait_until("the first 835 posted", Duration::from_secs(20), async || remits.archived().len() == 1).await;
    bank.drop_renamed(&bank_sample("daily.ach"), "daily.ach");
    wait_until("the bank file archived", Duration::from_secs(20), async || bank.archived().len() == 1).await;
    assert_eq!(matched("EFT-20240212-0004").await, 1, "matched when the money came: {}", daemon.log());
    assert!(daemon.log().contains("\"matched\":1"), "{}", daemon.log());
    assert_eq!(scalar(&db, "SELECT count(*) FROM reassociations").await, 1, "the 253.40 waits for its remittance");

    remits.drop_renamed(&sample("valid/paid-claims.835"), "late.835");
    wait_until("the later 835 posted", Duration::from_secs(20), async || remits.archived().len() == 2).await;
    assert_eq!(matched("EFT-20240115-0001").await, 1, "matched when its remittance posted: {}", daemon.log());
    assert_eq!(scalar(&db, "SELECT count(*) FROM reassociations").await, 2);
    assert!(daemon.log().contains("deposits matched with the remittances just posted"), "{}", daemon.log());
    let metrics = http_get(daemon.http, "/metrics").unwrap().1;
    assert!(metrics.contains("remitd_deposits_matched_total 2"), "{metrics}");
    assert!(metrics.contains("remitd_files_ingested_total{folder=\"remits\"} 2"), "{metrics}");
    assert!(bank.errors().is_empty() && remits.errors().is_empty());
    assert!(!daemon.log().contains("cannot match"), "{}", daemon.log());
    assert_no_account_numbers(&daemon);
}

#[tokio::test]
async fn a_drop_folder_of_an_unknown_kind_stops_the_start_naming_it() {
    let db = TestDb::new().await;
    let folder = Folder::new();
    let mut daemon = Daemon::spawn_configured(&db.url, &folder, "kind = \"cheques\"\n", &[]);
    let status = daemon.child.wait().unwrap();
    assert!(!status.success());
    let said = daemon.stderr();
    assert!(said.contains("kind") && said.contains("cheques") && said.contains("`remittances`") && said.contains("`bank`"), "{said}");
}

/// Matching is a look after the file, never part of its fate: when it
/// fails, the 835 stays posted and archived, and the log says so.
#[tokio::test]
async fn a_failure_to_match_never_holds_up_the_835() {
    let db = TestDb::new().await;
    common::import_csv(&db.pool, &sample_claims_except(&[])).await;
    let (bank, remits) = (Folder::new(), Folder::new());
    let daemon = spawn(&db.url, &bank, Some(&remits));
    daemon.ready().await;
    bank.drop_renamed(&bank_sample("daily.ach"), "daily.ach");
    wait_until("the bank file archived", Duration::from_secs(20), async || bank.archived().len() == 1).await;
    sqlx::query("ALTER TABLE reassociations ADD CONSTRAINT refuses_every_match CHECK (how = 'never')").execute(&db.pool).await.unwrap();
    remits.drop_renamed(&sample("valid/paid-claims.835"), "paid.835");
    wait_until("the 835 archived", Duration::from_secs(20), async || remits.archived().len() == 1).await;
    assert!(remits.errors().is_empty(), "{:?}", remits.errors());
    assert_eq!(scalar(&db, "SELECT count(*) FROM remittances").await, 1);
    assert_eq!(scalar(&db, "SELECT count(*) FROM reassociations").await, 0);
    assert!(daemon.log().contains("cannot match deposits with remittances now"), "{}", daemon.log());
    assert_eq!(http_get(daemon.http, "/readyz").map(|(s, _)| s), Some(200), "not an outage");
}

/// The queues are read at start: each state's size and the oldest item's
/// age are metrics, and the remittances already overdue are logged.
#[tokio::test]
async fn the_reassociation_queues_are_metrics_and_overdue_money_is_logged() {
    let db = TestDb::new().await;
    common::import_csv(&db.pool, &sample_claims_except(&[])).await;
    common::ingest(&db.pool, &sample("valid/paid-claims.835")).await;
    common::ingest(&db.pool, &sample("valid/denial.835")).await;
    let bank = Folder::new();
    let daemon = spawn(&db.url, &bank, None);
    daemon.ready().await;
    wait_until("the queues read", Duration::from_secs(20), async || daemon.log().contains("remittances overdue")).await;
    let log = daemon.log();
    assert!(log.contains("\"remittances\":2"), "{log}");
    let metrics = http_get(daemon.http, "/metrics").unwrap().1;
    assert!(metrics.contains("remitd_reassociation_items{status=\"overdue\"} 2"), "{metrics}");
    assert!(metrics.contains("remitd_reassociation_items{status=\"matched\"} 0"), "{metrics}");
    let oldest = metrics.lines().find(|l| l.starts_with("remitd_reassociation_oldest_days{status=\"overdue\"}")).unwrap();
    let days: i64 = oldest.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(days > 200, "January 2024's remittance has waited since: {oldest}");
}
