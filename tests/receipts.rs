//! Receipt numbers have no gaps (source document 001: a gap reads as a
//! deleted write-off): a refused or rolled-back action takes no number,
//! concurrent write-offs number their receipts one after another, and
//! nobody numbers a receipt by hand.

mod common;

use common::{dec, import_csv, ingest, sample, sample_claims_except, TestDb};
use remitd::actors::Scope;
use remitd::denials;
use remitd::writeoff::{self, BulkFilter, Request};

async fn setup() -> TestDb {
    let db = TestDb::new().await;
    import_csv(&db.pool, &sample_claims_except(&[])).await;
    ingest(&db.pool, &sample("valid/denial.835")).await;
    db.people(&[("ann", &[Scope::DenialWrite, Scope::PaymentWrite])]).await;
    db
}

async fn denial_id(db: &TestDb, claim_id: &str) -> i64 {
    denials::list(&db.pool, Some(claim_id), None).await.unwrap()[0].id
}

async fn receipts(db: &TestDb) -> Vec<i64> {
    sqlx::query_scalar("SELECT id FROM writeoff_receipts ORDER BY id").fetch_all(&db.pool).await.unwrap()
}

fn req<'a>(denial_id: i64, reason: &'a str, amount: Option<&str>) -> Request<'a> {
    Request { denial_id, reason, note: None, amount: amount.map(dec), actor: "ann" }
}

/// Refusals that come after the receipt was opened (the amount over its
/// reason's cap is known only once the denial is read) and previews leave
/// no gap: the next receipt that commits takes the next number.
#[tokio::test]
async fn refused_actions_and_previews_take_no_receipt_number() {
    let db = setup().await;
    let (d1, d2) = (denial_id(&db, "CLM-2001").await, denial_id(&db, "CLM-2002").await);
    let first = writeoff::write_off(&db.pool, req(d1, "bad-debt", Some("50.00"))).await.unwrap();
    assert_eq!(first.receipt, 1);
    for _ in 0..3 {
        let e = writeoff::write_off(&db.pool, req(d2, "small-balance", None)).await.unwrap_err();
        assert!(e.to_string().contains("over the cap"), "{e}");
    }
    assert!(writeoff::write_off(&db.pool, req(d2, "bad-debt", Some("480.01"))).await.is_err());
    let preview = writeoff::bulk(&db.pool, &BulkFilter::default(), "bad-debt", None, "ann", true).await.unwrap();
    assert_eq!(preview.receipt, None);
    assert!(preview.written_off > 0, "the preview wrote off something, under receipt 0, and rolled back");
    let next = writeoff::write_off(&db.pool, req(d2, "bad-debt", Some("80.00"))).await.unwrap();
    assert_eq!(next.receipt, 2, "no number was spent on the refusals or the preview");
    let run = writeoff::bulk(&db.pool, &BulkFilter::default(), "bad-debt", None, "ann", false).await.unwrap();
    assert_eq!(run.receipt, Some(3));
    assert_eq!(receipts(&db).await, [1, 2, 3]);
}

/// Many write-offs at once, a third of them refused for taking more than
/// remains: the receipts that commit are numbered 1, 2, 3, ... with none
/// missing and none twice.
#[tokio::test]
async fn concurrent_write_offs_number_their_receipts_one_after_another() {
    let db = setup().await;
    let (d1, d2) = (denial_id(&db, "CLM-2001").await, denial_id(&db, "CLM-2002").await);
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let pool = db.pool.clone();
            let denial = if i % 2 == 0 { d1 } else { d2 };
            tokio::spawn(async move { writeoff::write_off(&pool, req(denial, "bad-debt", Some("30.00"))).await })
        })
        .collect();
    let mut posted = Vec::new();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(out) => posted.push(out.receipt),
            Err(_) => refused += 1,
        }
    }
    // 250.00 takes eight of 30.00 and 480.00 takes all fifteen.
    assert_eq!((posted.len(), refused), (23, 7));
    posted.sort();
    assert_eq!(posted, (1..=23).collect::<Vec<i64>>());
    assert_eq!(receipts(&db).await, posted);
    common::assert_balances_add_up(&db.pool).await;
}

/// The database numbers receipts for every login, its owner included: a
/// number given by hand is replaced, the counter does not move by hand,
/// and a preview's receipt 0 never commits.
#[tokio::test]
async fn nobody_numbers_a_receipt_by_hand() {
    let db = setup().await;
    let refusal = |e: sqlx::Error| e.as_database_error().map(|d| d.message().to_string()).expect("a database refusal");
    let by_hand = |id: i64| format!("INSERT INTO writeoff_receipts (id, kind, actor, reason) VALUES ({id}, 'single', 'system', 'bad-debt') RETURNING id");
    let given: i64 = sqlx::query_scalar(&by_hand(1000)).fetch_one(&db.pool).await.unwrap();
    assert_eq!(given, 1, "the database's number, not the writer's");
    for change in ["UPDATE receipt_counter SET last = last + 1", "UPDATE receipt_counter SET last = 0", "DELETE FROM receipt_counter"] {
        let e = refusal(sqlx::query(change).execute(&db.pool).await.unwrap_err());
        assert!(e.starts_with("receipt numbers are given by the database"), "{change}: {e}");
    }
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query(&by_hand(0)).execute(&mut *tx).await.unwrap();
    let e = refusal(tx.commit().await.unwrap_err());
    assert_eq!(e, "receipt 0 is a preview's: it never commits");

    let clerk = db.login_role("clerk").await;
    db.people(&[(&clerk.name, &[Scope::DenialWrite])]).await;
    let pool = clerk.pool().await;
    let e = refusal(sqlx::query("UPDATE receipt_counter SET last = last + 1").execute(&pool).await.unwrap_err());
    assert!(e.starts_with("receipt numbers are given by the database"), "{e}");
    let d = denial_id(&db, "CLM-2001").await;
    let mine = writeoff::write_off(&pool, Request { actor: &clerk.name, ..req(d, "bad-debt", Some("10.00")) }).await.unwrap();
    assert_eq!(mine.receipt, 2);
    pool.close().await;
}
