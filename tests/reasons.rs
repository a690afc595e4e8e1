//! Write-off reasons as data (source document 004: "sometimes the picklist
//! is empty until configured"; small-balance is "under the tenant's
//! small-balance threshold"): admins add, cap and retire reasons, each
//! reason's scope and cap hold for every write-off, and the database holds
//! them for every login, `psql` included.

mod common;

use std::process::Command;

use common::{claim, dec, import_csv, ingest, sample, sample_claims_except, TestDb, ADMIN};
use remitd::actors::Scope;
use remitd::denials;
use remitd::ledger::ActionError;
use remitd::writeoff::reasons::{self, NewReason};
use remitd::writeoff::{self, history, BulkFilter, Request};

/// The denial sample posted (CLM-2001: 250.00 denied) and three people:
/// `ann` writes off denials, `sam` approves, `bob` may do nothing.
async fn setup() -> TestDb {
    let db = TestDb::new().await;
    import_csv(&db.pool, &sample_claims_except(&[])).await;
    ingest(&db.pool, &sample("valid/denial.835")).await;
    db.people(&[("ann", &[Scope::DenialWrite]), ("sam", &[Scope::WriteoffApprove]), ("bob", &[])]).await;
    db
}

async fn denial_id(db: &TestDb, claim_id: &str) -> i64 {
    denials::list(&db.pool, Some(claim_id), None).await.unwrap()[0].id
}

fn req<'a>(denial_id: i64, reason: &'a str, amount: Option<&str>, actor: &'a str) -> Request<'a> {
    Request { denial_id, reason, note: None, amount: amount.map(dec), actor }
}

fn charity(scope: Scope, cap: Option<&str>) -> NewReason<'static> {
    NewReason { code: "charity-care", label: "Charity care", requires_note: false, scope, max_amount: cap.map(dec) }
}

/// The seeded list, and what only an admin may change: each change audited,
/// an existing code refused with nothing changed, bad codes and caps refused.
#[tokio::test]
async fn an_admin_keeps_the_list_and_every_change_is_audited() {
    let db = setup().await;
    let list = reasons::list(&db.pool, false).await.unwrap();
    let small = list.iter().find(|r| r.code == "small-balance").expect("seeded");
    assert_eq!((small.max_amount, small.scope), (Some(dec("10.00")), Scope::DenialWrite), "seeded with a cap of 10.00");
    assert_eq!(list.iter().find(|r| r.code == "contractual").unwrap().scope, Scope::PaymentWrite);

    let e = reasons::add(&db.pool, "ann", &charity(Scope::DenialWrite, None)).await.unwrap_err();
    assert!(matches!(&e, ActionError::Forbidden { scope, .. } if scope == "remitd.admin"), "{e}");
    assert!(matches!(reasons::retire(&db.pool, "ann", "bad-debt").await.unwrap_err(), ActionError::Forbidden { .. }));
    assert!(matches!(reasons::set_cap(&db.pool, "ann", "bad-debt", None).await.unwrap_err(), ActionError::Forbidden { .. }));

    reasons::add(&db.pool, ADMIN, &charity(Scope::DenialWrite, Some("500"))).await.unwrap();
    let again = NewReason { label: "Something else", ..charity(Scope::PaymentWrite, None) };
    let e = reasons::add(&db.pool, ADMIN, &again).await.unwrap_err();
    assert_eq!(e.to_string(), "\"charity-care\" is a reason already (Charity care): nothing changed");
    let kept = reasons::list(&db.pool, false).await.unwrap().into_iter().find(|r| r.code == "charity-care").unwrap();
    assert_eq!((kept.label.as_str(), kept.max_amount, kept.scope), ("Charity care", Some(dec("500.00")), Scope::DenialWrite));
    for code in ["Charity", "9lives", "", "a b", "x".repeat(41).as_str()] {
        let bad = NewReason { code, ..charity(Scope::DenialWrite, None) };
        assert!(reasons::add(&db.pool, ADMIN, &bad).await.unwrap_err().to_string().contains("cannot be a reason code"), "{code:?}");
    }
    for cap in ["0", "-1", "1.001"] {
        let e = reasons::set_cap(&db.pool, ADMIN, "charity-care", Some(dec(cap))).await.unwrap_err();
        assert!(e.to_string().starts_with("a cap is more than 0"), "{cap}: {e}");
    }
    let e = reasons::add(&db.pool, ADMIN, &NewReason { code: "admin-only", ..charity(Scope::Admin, None) }).await.unwrap_err();
    assert!(e.to_string().contains("a reason takes a billing scope"), "{e}");
    assert!(reasons::set_cap(&db.pool, ADMIN, "no-such", None).await.unwrap_err().to_string().starts_with("unknown reason \"no-such\""));

    let capped = reasons::set_cap(&db.pool, ADMIN, "small-balance", Some(dec("5"))).await.unwrap();
    assert_eq!(capped.max_amount, Some(dec("5.00")));
    let retired = reasons::retire(&db.pool, ADMIN, "bad-debt").await.unwrap();
    assert!(retired.retired_at.is_some());
    assert_eq!(reasons::retire(&db.pool, ADMIN, "bad-debt").await.unwrap().retired_at, retired.retired_at, "retiring again changes nothing");
    assert!(!reasons::list(&db.pool, false).await.unwrap().iter().any(|r| r.code == "bad-debt"), "retired reasons leave the picklist");
    assert!(reasons::list(&db.pool, true).await.unwrap().iter().any(|r| r.code == "bad-debt"));

    let audit: Vec<(String, String, String)> =
        sqlx::query_as("SELECT actor, action, reason FROM audit_log WHERE action LIKE 'reason%' ORDER BY id").fetch_all(&db.pool).await.unwrap();
    let audit: Vec<_> = audit.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())).collect();
    assert_eq!(
        audit,
        [(ADMIN, "reason_added", "charity-care"), (ADMIN, "reason_cap_set", "small-balance"), (ADMIN, "reason_retired", "bad-debt")],
        "the refused attempts left no row"
    );
}

/// A write-off over its reason's cap is refused, whatever the path: one
/// denial, a bulk run (the row is skipped, saying why), a
/// patient-responsibility write-off. Within the cap it posts.
#[tokio::test]
async fn a_write_off_over_its_reasons_cap_is_refused_and_within_it_posts() {
    let db = setup().await;
    let d = denial_id(&db, "CLM-2001").await;
    let e = writeoff::write_off(&db.pool, req(d, "small-balance", None, "ann")).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "a write-off of 250.00 is over the cap of reason \"small-balance\", 10.00 (an admin changes it: remitd reason cap small-balance AMOUNT)"
    );
    let e = writeoff::write_off(&db.pool, req(d, "small-balance", Some("10.01"), "ann")).await.unwrap_err();
    assert!(e.to_string().starts_with("a write-off of 10.01 is over the cap"), "{e}");
    assert_eq!(claim(&db.pool, "CLM-2001").await.written_off, dec("0"), "nothing of the refusals reached the ledger");

    let filter = BulkFilter { claim: Some("CLM-2001".into()), ..BulkFilter::default() };
    let run = writeoff::bulk(&db.pool, &filter, "small-balance", None, "ann", false).await.unwrap();
    assert_eq!((run.written_off, run.receipt), (0, None));
    assert_eq!(run.skipped.len(), 1);
    assert!(run.skipped[0].why.starts_with("a write-off of 250.00 is over the cap"), "{:?}", run.skipped);

    let out = writeoff::write_off(&db.pool, req(d, "small-balance", Some("10.00"), "ann")).await.unwrap();
    assert_eq!((out.status.as_str(), out.amount), ("POSTED", dec("10.00")));
    reasons::set_cap(&db.pool, ADMIN, "small-balance", None).await.unwrap();
    let rest = writeoff::write_off(&db.pool, req(d, "small-balance", None, "ann")).await.unwrap();
    assert_eq!(rest.amount, dec("240.00"), "with the cap lifted, the rest");
    assert_eq!(claim(&db.pool, "CLM-2001").await.written_off, dec("250.00"));
    common::assert_balances_add_up(&db.pool).await;
}

/// A retired reason stays on the rows that have it (history, undo) and
/// takes no new write-off.
#[tokio::test]
async fn a_retired_reason_stays_on_old_rows_and_takes_no_new_ones() {
    let db = setup().await;
    let d = denial_id(&db, "CLM-2001").await;
    let old = writeoff::write_off(&db.pool, req(d, "bad-debt", Some("50.00"), "ann")).await.unwrap();
    reasons::retire(&db.pool, ADMIN, "bad-debt").await.unwrap();
    let e = writeoff::write_off(&db.pool, req(d, "bad-debt", Some("50.00"), "ann")).await.unwrap_err();
    assert!(e.to_string().starts_with("the reason \"bad-debt\" was retired on "), "{e}");
    let h = history::history(&db.pool, &history::HistoryFilter { receipt: None, from: None, to: None, reason: Some("bad-debt") }).await.unwrap();
    assert_eq!(h.rows.iter().map(|r| (r.writeoff_id, r.reason.as_str())).collect::<Vec<_>>(), [(old.writeoff_id, "bad-debt")]);
    writeoff::undo(&db.pool, old.writeoff_id, "ann", "posted to the wrong claim").await.expect("an old write-off can still be undone");
    assert_eq!(claim(&db.pool, "CLM-2001").await.written_off, dec("0"));
}

/// Which scope a write-off takes comes from its reason.
#[tokio::test]
async fn the_scope_a_write_off_takes_is_its_reasons() {
    let db = setup().await;
    reasons::add(&db.pool, ADMIN, &charity(Scope::WriteoffApprove, None)).await.unwrap();
    let d = denial_id(&db, "CLM-2001").await;
    let e = writeoff::write_off(&db.pool, req(d, "charity-care", None, "ann")).await.unwrap_err();
    assert!(matches!(&e, ActionError::Forbidden { scope, .. } if scope == "billing.writeoff.approve"), "{e}");
    let out = writeoff::write_off(&db.pool, req(d, "charity-care", None, "sam")).await.unwrap();
    assert_eq!(out.amount, dec("250.00"));
}

/// The database holds the same rules for every login: the owner inserting
/// by hand, a clerk in `psql`. Nobody changes a reason's code, and only an
/// admin changes the list.
#[tokio::test]
async fn the_database_holds_caps_retirement_and_scopes_for_every_login() {
    let db = setup().await;
    reasons::add(&db.pool, ADMIN, &charity(Scope::WriteoffApprove, None)).await.unwrap();
    reasons::retire(&db.pool, ADMIN, "bad-debt").await.unwrap();
    let by_hand = |amount: &str, reason: &str| {
        format!(
            "WITH r AS (INSERT INTO writeoff_receipts (kind, actor, reason) VALUES ('single', remitd_acting(), '{reason}') RETURNING id)
             INSERT INTO writeoffs (receipt_id, denial_id, claim_id, amount, bucket, reason, requested_by, status)
             SELECT r.id, d.id, c.id, {amount}, 'insurance', '{reason}', remitd_acting(), 'PENDING_APPROVAL'
             FROM r, claims c JOIN denials d ON d.claim_id = c.id WHERE c.claim_id = 'CLM-2001'"
        )
    };
    let refusal = |e: sqlx::Error| e.as_database_error().map(|d| (d.code().map(|c| c.into_owned()), d.message().to_string())).expect("a database refusal");

    let (code, e) = refusal(sqlx::query(&by_hand("200.00", "small-balance")).execute(&db.pool).await.unwrap_err());
    assert_eq!(code.as_deref(), Some("23514"));
    assert!(e.starts_with("a write-off of 200.00 with reason small-balance is over the reason's cap of 10.00"), "the owner too: {e}");
    let (_, e) = refusal(sqlx::query(&by_hand("20.00", "bad-debt")).execute(&db.pool).await.unwrap_err());
    assert!(e.starts_with("the write-off reason bad-debt was retired on"), "{e}");

    let clerk = db.login_role("clerk").await;
    db.people(&[(&clerk.name, &[Scope::DenialWrite])]).await;
    let pool = clerk.pool().await;
    let (_, e) = refusal(sqlx::query(&by_hand("200.00", "small-balance")).execute(&pool).await.unwrap_err());
    assert!(e.contains("over the reason's cap of 10.00"), "{e}");
    let (code, e) = refusal(sqlx::query(&by_hand("20.00", "charity-care")).execute(&pool).await.unwrap_err());
    assert_eq!(code.as_deref(), Some("42501"));
    assert!(e.contains("lacks the scope billing.writeoff.approve (changing writeoffs)"), "{e}");
    sqlx::query(&by_hand("10.00", "small-balance")).execute(&pool).await.expect("within the cap, with the scope");
    for change in [
        "UPDATE writeoff_reasons SET max_amount = NULL WHERE code = 'small-balance'",
        "UPDATE writeoff_reasons SET retired_at = NULL WHERE code = 'bad-debt'",
        "INSERT INTO writeoff_reasons (code, label) VALUES ('mine', 'Mine')",
    ] {
        let (_, e) = refusal(sqlx::query(change).execute(&pool).await.unwrap_err());
        assert!(e.contains("lacks the scope remitd.admin (changing writeoff_reasons)"), "{change}: {e}");
    }
    pool.close().await;
    let (_, e) = refusal(sqlx::query("UPDATE writeoff_reasons SET code = 'tiny' WHERE code = 'small-balance'").execute(&db.pool).await.unwrap_err());
    assert!(e.starts_with("a write-off reason's code never changes"), "{e}");
}

/// `remitd reason ...` from the command line, as support runs it.
#[tokio::test]
async fn the_command_line_lists_adds_caps_and_retires() {
    let db = setup().await;
    let remitd = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_remitd")).args(args).env("DATABASE_URL", &db.url).env("REMITD_ACTOR", ADMIN).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, out, _) = remitd(&["reason", "add", "charity-care", "--label", "Charity care", "--max-amount", "500"]);
    assert_eq!((code, out.trim()), (Some(0), "reason charity-care added: cap 500.00 takes billing.denial.write"));
    let (code, out, _) = remitd(&["reason", "cap", "small-balance", "5"]);
    assert_eq!((code, out.trim()), (Some(0), "reason small-balance: cap 5.00 (write-offs from now on)"));
    let (code, _, err) = remitd(&["reason", "cap", "small-balance", "lots"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("expected an amount such as 5.00, or none"), "{err}");
    let (code, out, _) = remitd(&["reason", "retire", "bad-debt"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("reason bad-debt retired on "), "{out}");
    let (code, out, _) = remitd(&["reason", "list", "--retired"]);
    assert_eq!(code, Some(0));
    let row = |code: &str| {
        out.lines().find(|l| l.starts_with(&format!("{code} "))).unwrap_or_else(|| panic!("{code} in {out}")).split_whitespace().collect::<Vec<_>>()
    };
    assert_eq!(row("small-balance")[..3], ["small-balance", "billing.denial.write", "5.00"]);
    assert_eq!(row("charity-care")[..3], ["charity-care", "billing.denial.write", "500.00"]);
    let today = chrono::Utc::now().date_naive().to_string();
    let retired = row("bad-debt");
    assert_eq!(retired[retired.len() - 2..], ["retired", today.as_str()]);
    assert!(out.lines().last().unwrap().starts_with("bad-debt "), "retired reasons come last: {out}");
    let (code, _, err) = remitd(&["reason", "add", "mine", "--label", "Mine", "--actor", "bob"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("lacks the scope remitd.admin"), "{err}");
}
