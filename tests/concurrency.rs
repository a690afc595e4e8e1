//! Races a billing office runs every day: several people writing off the
//! same denial in the same minute, and a remittance arriving while they do.
//! Real processes of the real binary against one database; whatever order
//! the database lets them in, nothing is written off that is not owed.

mod common;

use std::process::{Child, Command, Stdio};

use common::{clp, clp_lines, dec, import_csv, ingest, remittance_file, svc, TestDb};
use remitd::actors::Scope;
use rust_decimal::Decimal;

const ROWS: &str = "DENIED,A1,\"DOE, JANE\",1999999901,2024-01-01,99213,250.00,2024-01-02,1
RACED,A2,\"DOE, JANE\",1999999901,2024-01-01,99213,250.00,2024-01-02,1
PR,A3,\"DOE, JANE\",1999999901,2024-01-01,99213,200.00,2024-01-02,1
";

async fn setup() -> (TestDb, tempfile::TempDir) {
    let db = TestDb::new().await;
    import_csv(&db.pool, &format!("{}\n{ROWS}", common::CSV_HEADER)).await;
    db.people(&[("ann", &[Scope::DenialWrite, Scope::PaymentWrite]), ("bob", &[Scope::DenialWrite, Scope::PaymentWrite])]).await;
    let dir = tempfile::tempdir().unwrap();
    let denied = |id: &str, pcn: &str| clp(id, "4", "250.00", pcn, &[("CO", "50", "250.00")]);
    let pr = clp_lines("PR", "1", "P3", vec![svc("99213", "200.00", &[("PR", "1", "200.00")])]);
    ingest(&db.pool, &remittance_file(dir.path(), "EFT-1", vec![denied("DENIED", "P1"), denied("RACED", "P2"), pr])).await;
    (db, dir)
}

fn spawn(db: &TestDb, actor: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_remitd"))
        .env("DATABASE_URL", &db.url)
        .env("REMITD_ACTOR", actor)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for every child; returns how many succeeded. Each failure must be
/// a refusal (exit 1), not a crash or a database error.
fn succeeded(children: Vec<Child>) -> usize {
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .filter(|o| {
            assert!(o.status.success() || o.status.code() == Some(1), "{}", String::from_utf8_lossy(&o.stderr));
            o.status.success()
        })
        .count()
}

async fn posted_on(db: &TestDb, claim: &str) -> Decimal {
    sqlx::query_scalar("SELECT COALESCE(sum(w.amount), 0) FROM writeoffs w JOIN claims c ON c.id = w.claim_id WHERE c.claim_id = $1 AND w.status = 'POSTED'")
        .bind(claim)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

async fn no_credit(db: &TestDb) {
    let below: i64 =
        sqlx::query_scalar("SELECT count(*) FROM claim_owed WHERE insurance_balance < 0 OR patient_balance < 0").fetch_one(&db.pool).await.unwrap();
    assert_eq!(below, 0, "a write-off made a credit");
    common::assert_balances_add_up(&db.pool).await;
}

#[tokio::test]
async fn ten_concurrent_partial_write_offs_by_two_people_never_exceed_the_denial() {
    let (db, _dir) = setup().await;
    let d = remitd::denials::list(&db.pool, Some("DENIED"), None).await.unwrap().remove(0).id.to_string();
    // Ten people-minutes of 30.00 each against 250.00: eight fit.
    let children: Vec<Child> =
        (0..10).map(|i| spawn(&db, ["ann", "bob"][i % 2], &["denial", "writeoff", &d, "--reason", "bad-debt", "--amount", "30.00"])).collect();
    assert_eq!(succeeded(children), 8);
    assert_eq!(posted_on(&db, "DENIED").await, dec("240.00"));
    assert_eq!(common::claim(&db.pool, "DENIED").await.insurance_balance, dec("10.00"));
    // And ten of 50.00: five fit, whatever the order.
    let d = remitd::denials::list(&db.pool, Some("RACED"), None).await.unwrap().remove(0).id.to_string();
    let children: Vec<Child> =
        (0..10).map(|i| spawn(&db, ["ann", "bob"][i % 2], &["denial", "writeoff", &d, "--reason", "bad-debt", "--amount", "50.00"])).collect();
    assert_eq!(succeeded(children), 5);
    assert_eq!(common::claim(&db.pool, "RACED").await.insurance_balance, dec("0"));
    no_credit(&db).await;
}

#[tokio::test]
async fn write_offs_racing_the_payment_of_the_same_claim_never_make_a_credit() {
    let (db, dir) = setup().await;
    let d = remitd::denials::list(&db.pool, Some("RACED"), None).await.unwrap().remove(0).id.to_string();
    // The payer pays the denied claim after all while two people write it off.
    let paid = remittance_file(dir.path(), "EFT-2", vec![clp("RACED", "1", "250.00", "P2-B", &[("CO", "45", "50.00")])]);
    let mut children: Vec<Child> =
        (0..4).map(|i| spawn(&db, ["ann", "bob"][i % 2], &["denial", "writeoff", &d, "--reason", "bad-debt", "--amount", "60.00"])).collect();
    children.insert(2, spawn(&db, "ann", &["ingest", paid.to_str().unwrap()]));
    let done = succeeded(children);
    assert!(done >= 1, "the remittance posts");
    let c = common::claim(&db.pool, "RACED").await;
    assert_eq!(c.insurance_balance, dec("0"), "paid in full: nothing owed, nothing credited");
    assert_eq!(posted_on(&db, "RACED").await, dec("0"), "write-offs made before the payment were given back");
    assert_eq!(c.denials[0].status, "RESOLVED");
    no_credit(&db).await;
}

#[tokio::test]
async fn concurrent_patient_write_offs_on_one_line_never_exceed_the_responsibility() {
    let (db, _dir) = setup().await;
    let children: Vec<Child> =
        (0..10).map(|i| spawn(&db, ["ann", "bob"][i % 2], &["pr-writeoff", "PR", "--carc", "1=45.00", "--reason", "hardship"])).collect();
    assert_eq!(succeeded(children), 4, "four of 45.00 fit in 200.00");
    assert_eq!(common::claim(&db.pool, "PR").await.patient_balance, dec("20.00"));
    no_credit(&db).await;
}
