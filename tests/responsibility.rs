//! Corrected patient responsibility (source document 003: undo the
//! write-off, then "enter the correct amount owed"): a ledger entry with a
//! reason, never an edit, bounded so neither side owes less than nothing,
//! held by the database for every login.

mod common;

use std::process::Command;

use common::{claim, dec, import_csv, ingest, sample, sample_claims_except, TestDb};
use remitd::actors::Scope;
use remitd::ledger::ActionError;
use remitd::writeoff::patient_balances::{self, Filter};
use remitd::writeoff::responsibility::{self, Correction};
use remitd::writeoff::{self};

/// CLM-1002: 169.00 of patient responsibility, nothing owed by the payer.
async fn setup() -> TestDb {
    let db = TestDb::new().await;
    import_csv(&db.pool, &sample_claims_except(&[])).await;
    ingest(&db.pool, &sample("valid/paid-claims.835")).await;
    db.people(&[("ann", &[Scope::PaymentWrite]), ("bob", &[Scope::DenialWrite])]).await;
    db
}

fn fix(amount: &str, actor: &'static str) -> Correction<'static> {
    Correction { claim_id: "CLM-1002", line: Some(1), amount: dec(amount), carc: Some("3"), reason: "the EOB's copay", actor }
}

#[tokio::test]
async fn after_an_undo_the_correct_amount_owed_is_entered_as_a_new_entry() {
    let db = setup().await;
    let before = claim(&db.pool, "CLM-1002").await;
    assert_eq!((before.patient_balance, before.insurance_balance), (dec("169.00"), dec("0")));

    // Written off, then undone (the document's first step)...
    let one = Filter { claim: Some("CLM-1002".into()), ..Filter::default() };
    let run = patient_balances::write_off(&db.pool, &one, "no-balance-billing", None, "ann", false).await.unwrap();
    let e = responsibility::correct(&db.pool, &fix("-20.00", "ann")).await.unwrap_err();
    assert!(e.to_string().contains("neither side may owe less than nothing"), "written off, the patient owes nothing to take from: {e}");
    writeoff::undo(&db.pool, run.rows[0].writeoff_id.unwrap(), "ann", "written off by mistake").await.unwrap();

    // ...then the correct amount: the patient owes 20.00 less than the payer said.
    let less = responsibility::correct(&db.pool, &fix("-20.00", "ann")).await.unwrap();
    assert_eq!((less.patient_balance_after, less.insurance_balance_after), (dec("149.00"), dec("20.00")));
    let c = claim(&db.pool, "CLM-1002").await;
    assert_eq!((c.patient_responsibility, c.patient_balance, c.insurance_balance), (dec("149.00"), dec("149.00"), dec("20.00")));
    let entry = c.entries.iter().find(|e| e.memo.as_deref().is_some_and(|m| m.starts_with("responsibility corrected #"))).expect("its own entry");
    assert_eq!(
        (entry.kind.as_str(), entry.amount, entry.reason_code.as_deref(), entry.line_number),
        ("patient_responsibility", dec("-20.00"), Some("3"), Some(1))
    );
    assert!(c.entries.iter().any(|e| e.kind == "patient_responsibility" && e.amount == dec("160.00")), "what the payer posted stays");

    // And back, but never past what the payer side owes.
    responsibility::correct(&db.pool, &fix("20.00", "ann")).await.unwrap();
    let e = responsibility::correct(&db.pool, &fix("0.01", "ann")).await.unwrap_err();
    assert!(e.to_string().contains("owing insurance -0.01"), "{e}");
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'responsibility_corrected' AND actor = 'ann'").fetch_one(&db.pool).await.unwrap();
    assert_eq!(audited, 2, "one audit row per correction, none for the refusal");
    common::assert_balances_add_up(&db.pool).await;
}

#[tokio::test]
async fn only_the_payment_scope_corrects_and_nonsense_is_refused() {
    let db = setup().await;
    let e = responsibility::correct(&db.pool, &fix("-5.00", "bob")).await.unwrap_err();
    assert!(matches!(&e, ActionError::Forbidden { scope, .. } if scope == "billing.payment.write"), "{e}");
    for (c, says) in [
        (Correction { amount: dec("0"), ..fix("1", "ann") }, "a correction is an amount other than 0"),
        (Correction { amount: dec("1.001"), ..fix("1", "ann") }, "a correction is an amount other than 0"),
        (Correction { reason: " ", ..fix("-1", "ann") }, "a correction needs a reason"),
        (Correction { carc: Some("45"), ..fix("-1", "ann") }, "the PR reason code is 1"),
        (Correction { claim_id: "NOPE", ..fix("-1", "ann") }, "no claim with id \"NOPE\""),
        (Correction { line: Some(9), ..fix("-1", "ann") }, "claim CLM-1002 has no line 9"),
    ] {
        let e = responsibility::correct(&db.pool, &c).await.unwrap_err().to_string();
        assert!(e.starts_with(says), "{e}");
    }
}

/// In `psql`, a clerk cannot write a correction's entry other than as
/// recorded and audited, nor one that leaves a side below zero, nor any
/// without the payment scope.
#[tokio::test]
async fn the_database_holds_a_correction_to_what_was_recorded() {
    let db = setup().await;
    let clerk = db.login_role("clerk").await;
    db.people(&[(&clerk.name, &[Scope::PaymentWrite])]).await;
    let pool = clerk.pool().await;
    let name = clerk.name.clone();
    let c = Correction { claim_id: "CLM-1002", line: Some(1), amount: dec("-10.00"), carc: Some("3"), reason: "the EOB's copay", actor: &name };
    let mine = responsibility::correct(&pool, &c).await.unwrap();
    let refusal = |e: sqlx::Error| e.as_database_error().map(|d| d.message().to_string()).expect("a database refusal");
    let entry = |correction: i64, amount: &str| {
        format!(
            "INSERT INTO ledger_entries (claim_id, service_line_id, kind, group_code, amount, actor, correction_id)
             SELECT c.id, l.id, 'patient_responsibility', 'PR', {amount}, session_user, {correction}
             FROM claims c JOIN service_lines l ON l.claim_id = c.id AND l.line_number = 1 WHERE c.claim_id = 'CLM-1002'"
        )
    };
    let e = refusal(sqlx::query(&entry(mine.correction_id, "-10.00")).execute(&pool).await.unwrap_err());
    assert!(e.starts_with("a correction's entry is its recorded, audited amount, once"), "twice: {e}");
    let e = refusal(sqlx::query(&entry(mine.correction_id, "-100.00")).execute(&pool).await.unwrap_err());
    assert!(e.starts_with("a correction's entry is its recorded, audited amount, once"), "{e}");
    // A correction recorded and audited by hand, but past zero.
    let mut tx = pool.begin().await.unwrap();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO responsibility_corrections (claim_id, service_line_id, amount, reason, actor)
         SELECT c.id, l.id, 500.00, 'too much', session_user FROM claims c JOIN service_lines l ON l.claim_id = c.id AND l.line_number = 1
         WHERE c.claim_id = 'CLM-1002' RETURNING id",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query(&format!("INSERT INTO audit_log (actor, action, detail) VALUES (session_user, 'responsibility_corrected', '{{\"correction\": \"{id}\"}}')"))
        .execute(&mut *tx)
        .await
        .unwrap();
    let e = refusal(sqlx::query(&entry(id, "500.00")).execute(&mut *tx).await.unwrap_err());
    assert!(e.starts_with("a correction leaves neither side owing less than nothing"), "{e}");
    tx.rollback().await.unwrap();
    pool.close().await;

    let reader = db.login_role("reader").await;
    db.people(&[(&reader.name, &[Scope::DenialWrite])]).await;
    let pool = reader.pool().await;
    let e = refusal(sqlx::query(&entry(mine.correction_id, "-10.00")).execute(&pool).await.unwrap_err());
    assert!(e.contains("lacks the scope billing.payment.write (correcting a patient responsibility)"), "{e}");
    pool.close().await;
}

#[tokio::test]
async fn the_command_line_takes_a_negative_amount_as_is() {
    let db = setup().await;
    let out = Command::new(env!("CARGO_BIN_EXE_remitd"))
        .args(["pr-correct", "CLM-1002", "--line", "1", "--amount", "-20.00", "--carc", "3", "--reason", "copay was 0", "--actor", "ann"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("claim CLM-1002: patient responsibility corrected by -20.00 (correction #"), "{text}");
    assert!(text.contains("patient balance        169.00 ->     149.00"), "{text}");
    assert_eq!(claim(&db.pool, "CLM-1002").await.patient_balance, dec("149.00"));
}

/// Ten corrections at once, each taking 20.00 off the patient's 169.00:
/// eight fit, the rest are refused, and the patient never owes less than
/// nothing.
#[tokio::test]
async fn corrections_at_once_never_take_a_side_below_zero() {
    let db = setup().await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let pool = db.pool.clone();
            tokio::spawn(async move { responsibility::correct(&pool, &fix("-20.00", "ann")).await.is_ok() })
        })
        .collect();
    let mut done = 0;
    for t in tasks {
        done += usize::from(t.await.unwrap());
    }
    assert_eq!(done, 8);
    let c = claim(&db.pool, "CLM-1002").await;
    assert_eq!((c.patient_balance, c.insurance_balance), (dec("9.00"), dec("160.00")));
    common::assert_balances_add_up(&db.pool).await;
}
